"""What every page does first: read the workspace, show the title, the banner saying which model the page shows
(random weights: a warning that their patterns mean nothing yet), the chapter's introduction, then the notices
(input cut to the context, unknown tokens, a corpus that fell back). Returns the workspace."""
from __future__ import annotations

import streamlit as st

from minigpt import explain
from minigpt.text import t

from .workspace import Workspace, show_notices, workspace


def model_banner(ws: Workspace) -> None:
    """Which model is on screen: fresh random weights (a warning), trained here or loaded (step, validation loss)."""
    if explain.is_random(ws.model_kind):
        st.warning(ws.model_banner, icon="🎲")
    else:
        st.info(ws.model_banner, icon="🧠")


def open_page(title_key: str, intro_key: str | None = None, *, banner: bool = True) -> Workspace:
    """banner=False: a page that shows no single model's numbers (home, compare, the tokenizer's chapter)."""
    ws = workspace()
    st.title(t(title_key, ws.lang))
    if banner:
        model_banner(ws)
    if intro_key:
        st.write(t(intro_key, ws.lang))
    show_notices(ws)
    return ws
