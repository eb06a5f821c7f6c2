"""What every page does first: read the workspace, show the title and the chapter's introduction, then the
notices (input cut to the context, unknown tokens, a corpus that fell back). Returns the workspace."""
from __future__ import annotations

import streamlit as st

from minigpt.text import t

from .workspace import Workspace, show_notices, workspace


def open_page(title_key: str, intro_key: str | None = None) -> Workspace:
    ws = workspace()
    st.title(t(title_key, ws.lang))
    if intro_key:
        st.write(t(intro_key, ws.lang))
    show_notices(ws)
    return ws
