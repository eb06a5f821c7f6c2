"""minigpt: see every number a small GPT computes. Run with `streamlit run app.py`."""
import streamlit as st

st.set_page_config(page_title="minigpt", layout="wide")
st.title("minigpt")
st.write("The walkthrough pages are being built.")
