"""minigpt: see every number a small GPT computes. Run with `streamlit run app.py`.

The entry point draws the shared sidebar (the same on every page), then runs the chosen page.
"""
import streamlit as st

from minigpt.views.style import EMOJI_FONT_CSS

from ui import controls, projector as proj, room, sidebar

projector = proj.init()  # a lecture-hall screen: from ?view=projector once, then the page's button (ui/projector.py)
st.set_page_config(page_title="minigpt", page_icon="🔎", layout="wide",
                   initial_sidebar_state="collapsed" if projector else "auto")
st.html(f"<style>{EMOJI_FONT_CSS}</style>")  # colour emoji in token chips and figures (minigpt/views/style.py)
controls.init_controls()
lang = controls.lang()
room.before_sidebar()  # a student following a class room takes the lecturer's view (ui/room.py)

if not projector:
    sidebar.sidebar(lang)
for notice in st.session_state.pop("_url_notices", []):
    st.warning(notice, icon="🔗")
page = st.navigation(sidebar.pages(lang), position="top" if projector else "sidebar")
room.top(page, lang)
if projector:
    proj.style()
    if page.url_path != "step":  # the Step page has the button in its navigation row
        proj.switch_button(lang, key="projector_switch_top")
page.run()
room.after(page)
controls.sync_url()
