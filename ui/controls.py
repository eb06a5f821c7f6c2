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
SELECTED = "_selected"         # page-level choices remembered across chapters (row, block, head, switches)
PAGE_FORMATS = "_page_formats"  # page-level parameters written to the URL only when not their default


def init_controls() -> None:
    """Once per browser session: seed every control from the URL (invalid values -> defaults + notice).
    Every whole run (not a fragment's rerun) starts here, with no page parameters registered yet."""
    new_run()
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


def _from_url(name: str, allowed, parse):
    """The link's value for a page-level control (taken once), parsed; (value or None, raw or None)."""
    initial = st.session_state.get("_initial_query", {}).pop(name, None)
    if parse is None:
        return walkthrough.parse_page_param(initial, allowed), initial
    raw = initial[-1] if isinstance(initial, (list, tuple)) and initial else initial
    value = parse(raw) if raw is not None else None
    return (value if value in allowed else None), initial


def _allowed(value, allowed) -> bool:
    """value is one of allowed; a switch's True is not position 1 of a range (True == 1 in Python)."""
    return value in allowed and not (isinstance(value, bool) and isinstance(allowed, range))


def page_param(name: str, key: str, allowed, default, *, parse=None, fmt=None):
    """A page-level control that lives in the URL too (stage, block, head, what-if switches...). Returns its value.

    The first time it runs in a session, a valid URL value wins; an invalid one falls back to the default with a
    notice that says so (a link to head 99 of a 4-head model, a stage this model does not have). The value is
    also remembered outside the widget (SELECTED), so it survives a chapter without that widget: row, block, head
    and the switches chosen on one page are there on the next. parse: the URL text -> a value (default: ints for
    a range, else the text); fmt: a value -> its URL text, and a value equal to the default then stays out of
    the link (a switch that is on).
    """
    selected = st.session_state.setdefault(SELECTED, {})
    if key not in st.session_state or not _allowed(st.session_state[key], allowed):
        parsed, initial = _from_url(name, allowed, parse)
        if parsed is None and _allowed(selected.get(name), allowed):
            parsed = selected[name]
        st.session_state[key] = parsed if parsed is not None else default
        if parsed is None and initial is not None:
            raw = initial[-1] if isinstance(initial, (list, tuple)) and initial else initial
            st.warning(t("url.bad_page", lang(), key=name, raw=repr(str(raw)[:40]), default=default), icon="🔗")
    # Re-assign before the widget exists: the same key on another page is a new widget id, which would otherwise
    # start from its own default (a toggle from False) instead of the value chosen on the last chapter.
    st.session_state[key] = selected[name] = st.session_state[key]
    st.session_state.setdefault(PAGE_PARAMS, {})[name] = key
    if fmt is not None:
        st.session_state.setdefault(PAGE_FORMATS, {})[name] = (fmt, default)
    return st.session_state[key]


def remember(name: str, value) -> None:
    """Choose a page-level value from a callback (a head picked in the attention view): widget and memory alike."""
    st.session_state.setdefault(SELECTED, {})[name] = value
    st.session_state[f"p_{name}"] = value


def keep(name: str, key: str) -> None:
    """A widget's on_change: remember its value for the next chapter."""
    st.session_state.setdefault(SELECTED, {})[name] = st.session_state[key]


def index_picker(name: str, count: int, label: str, *, container=st, format_func=str) -> int:
    """One of range(count), kept in the URL as `name` (session key p_<name>); no widget when there is one choice."""
    key = f"p_{name}"
    value = page_param(name, key, range(count), 0)
    if count > 1:
        value = container.selectbox(label, range(count), key=key, format_func=format_func, on_change=keep,
                                    args=(name, key))
    return value


def sync_url() -> None:
    """Write the current controls (and this page's parameters) to the URL, so the link reproduces the view.
    Called at the end of every run, and at the end of a fragment's rerun (pages/attention.py)."""
    query = walkthrough.to_query(controls())
    formats = st.session_state.get(PAGE_FORMATS, {})
    for name, key in st.session_state.get(PAGE_PARAMS, {}).items():
        if key in st.session_state:
            fmt, default = formats.get(name, (str, None))
            if name in formats and st.session_state[key] == default:
                continue
            query[name] = fmt(st.session_state[key])
    if st.session_state.get(PROJECTOR):
        query["view"] = "projector"
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)
    from . import room  # a class room's lecturer sends the same view to the students (ui/room.py)

    room.publish()


def new_run() -> None:
    """At the start of a whole run: forget the previous page's URL parameters (a fragment rerun keeps them)."""
    st.session_state[PAGE_PARAMS] = {}
    st.session_state[PAGE_FORMATS] = {}
