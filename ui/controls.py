"""The sidebar's controls as session state, seeded from the URL once per session and written back after every
run, so a link reproduces the view (`/attention?ctx=32&lang=zh`). Page-level values (stage, block, head...)
join the URL through `page_param`."""
from __future__ import annotations

import dataclasses

import streamlit as st

from minigpt import walkthrough
from minigpt.text import t
from minigpt.walkthrough import Controls

KEY = "c_"                   # session-state prefix of the sidebar widgets
PAGE_PARAMS = "_page_params"  # page-level URL parameters registered during this run
PROJECTOR = "_projector"


def init_controls() -> None:
    """Once per browser session: seed every control from the URL (invalid values -> defaults + notice)."""
    if "_controls_ready" in st.session_state:
        # Re-assign each control so its value survives a change of widget id. The first run after the server
        # starts goes through Streamlit's legacy pages/-folder runner (ui/legacy_pages.py), which hashes widget
        # ids differently; without this, the first change a student makes resets every number to its minimum.
        for f in dataclasses.fields(Controls):
            if KEY + f.name in st.session_state:
                st.session_state[KEY + f.name] = st.session_state[KEY + f.name]
        return
    controls, notices = walkthrough.from_query(st.query_params.to_dict())
    for f in dataclasses.fields(Controls):
        st.session_state[KEY + f.name] = getattr(controls, f.name)
    st.session_state["_url_notices"] = notices
    st.session_state["_initial_query"] = st.query_params.to_dict()
    st.session_state["_controls_ready"] = True


def controls() -> Controls:
    values = {f.name: st.session_state.get(KEY + f.name, f.default) for f in dataclasses.fields(Controls)}
    return Controls(**values)


def lang() -> str:
    return st.session_state.get(KEY + "lang", "en")


def set_model(kind: str) -> None:
    """Select a model in the sidebar from a button's callback (before the sidebar's radio exists in the run)."""
    st.session_state[KEY + "model"] = kind


def page_param(name: str, key: str, allowed, default):
    """A page-level control that lives in the URL too (stage, block, head...). Returns its value.

    The first time a page runs in a session, a valid URL value wins; an invalid one falls back to the default
    with a notice that says so (a link to head 99 of a 4-head model, a stage this model does not have).
    """
    if key not in st.session_state or st.session_state[key] not in allowed:
        initial = st.session_state.get("_initial_query", {}).pop(name, None)
        parsed = walkthrough.parse_page_param(initial, allowed)
        st.session_state[key] = parsed if parsed is not None else default
        if parsed is None and initial is not None:
            raw = initial[-1] if isinstance(initial, (list, tuple)) and initial else initial
            st.warning(t("url.bad_page", lang(), key=name, raw=repr(str(raw)[:40]), default=default), icon="🔗")
    st.session_state.setdefault(PAGE_PARAMS, {})[name] = key
    return st.session_state[key]


def index_picker(name: str, count: int, label: str, *, container=st, format_func=str) -> int:
    """One of range(count), kept in the URL as `name` (session key p_<name>); no widget when there is one choice."""
    key = f"p_{name}"
    value = page_param(name, key, range(count), 0)
    if count > 1:
        value = container.selectbox(label, range(count), key=key, format_func=format_func)
    return value


def sync_url() -> None:
    """Write the current controls (and this page's parameters) to the URL, so the link reproduces the view."""
    query = walkthrough.to_query(controls())
    for name, key in st.session_state.pop(PAGE_PARAMS, {}).items():
        if key in st.session_state:
            query[name] = str(st.session_state[key])
    if st.session_state.get(PROJECTOR):
        query["view"] = "projector"
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)
