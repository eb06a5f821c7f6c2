"""The one place that reaches into Streamlit's internals (pinned 1.67), and why.

This repository has a `pages/` folder beside app.py (the product's layout names it). Streamlit decides once,
from the folder's existence, that the first run after `streamlit run` goes through its legacy pages/-folder
mode. There a shared link such as /attention?ctx=32 runs pages/attention.py alone — no sidebar, no URL
controls — and widgets get other ids than in every later run, so a first change would be lost. We switch the
mode off (st.navigation does the same, one run too late) and start the run again through app.py, before any
widget. tests/test_url.py and the deep-link browser test on a freshly started server cover it.
"""
import streamlit as st

try:
    from streamlit.runtime.pages_manager import PagesManager
except ImportError:  # pragma: no cover - a Streamlit without it has no legacy mode to leave
    PagesManager = None


def leave_legacy_pages_mode() -> None:
    if PagesManager is not None and PagesManager.uses_pages_directory and not st.get_option("global.appTest"):
        PagesManager.uses_pages_directory = False
        st.rerun()
