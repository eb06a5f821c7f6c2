"""The class room in the app: a lecturer's session drives, students' sessions follow (minigpt/rooms.py holds the
store). app.py calls three hooks: `before_sidebar()` (a follower takes the lecturer's controls before any widget
exists), `top(page, lang)` (a follower goes to the lecturer's page; the room bar, the question), `after(page)`
(the lecturer publishes what this run showed). Questions: minigpt/questions.py; figures: minigpt/views/questions.py.

A follower's browser reruns a small fragment every POLL_S seconds: one indexed SQLite read of the room's version
(and a heartbeat every HEARTBEAT_S). Only when the version changed does it rerun the app, which then draws the
lecturer's view. A student's own text, model and answers never leave their session except their answer's index.
"""
from __future__ import annotations

import dataclasses
import json
import re
import time

import streamlit as st

from minigpt import rooms
from minigpt.text import message, t
from minigpt.views import questions as qviews
from minigpt.walkthrough import Controls

from . import controls as ctl
from . import poll

POLL_S = 1.0
HEARTBEAT_S = 5.0
CODE, SECRET, MEMBER, FOLLOW = "room_code", "room_secret", "room_member", "room_follow"
APPLIED, SEEN, PUBLISHED, BEAT = "_room_applied", "_room_seen", "_room_published", "_room_beat"
GOTO, ERROR, PAGE = "_room_goto", "_room_error", "_room_page"
_MIRRORED = re.compile(r"(p_\w+|wi_\w+|step_stage)")  # page-level keys a follower takes from the lecturer
_PRIVATE_MODELS = ("trained", "loaded")  # live in the lecturer's session only; any other model every session builds
SELECTED = getattr(ctl, "SELECTED", "_selected")  # ui/controls.py: page-level choices remembered across chapters         # models every session can build; a trained or loaded one stays with its owner


def store() -> rooms.SQLiteRooms:
    return rooms.open_rooms()


def is_lecturer() -> bool:
    return bool(st.session_state.get(SECRET)) and bool(st.session_state.get(CODE))


def member() -> str:
    return st.session_state.setdefault(MEMBER, rooms.new_member_id())


def _leave(error: rooms.RoomError | None = None) -> None:
    for key in (CODE, SECRET, FOLLOW, APPLIED, SEEN, PUBLISHED, GOTO):
        st.session_state.pop(key, None)
    if error is not None:
        st.session_state[ERROR] = error


def join(raw: str) -> None:
    """Join as a student (a link's ?room=, the typed code). A bad or unknown code: a message, no room."""
    try:
        code = rooms.normalize_code(raw)
        store().version(code)
    except rooms.RoomError as exc:
        _leave(exc)
        return
    _leave()
    st.session_state[CODE], st.session_state[FOLLOW] = code, True
    st.session_state.pop(ERROR, None)


def start() -> None:
    code, secret = store().create()
    _leave()
    st.session_state[CODE], st.session_state[SECRET] = code, secret
    st.session_state.pop(ERROR, None)


# -- hook 1: before the sidebar ---------------------------------------------------------------------
def before_sidebar() -> None:
    initial = st.session_state.get("_initial_query", {})
    if "room" in initial:  # the join link, read once per session
        raw = initial.pop("room")
        join(raw[-1] if isinstance(raw, (list, tuple)) else raw)
    code = st.session_state.get(CODE)
    if not code or is_lecturer() or not st.session_state.get(FOLLOW):
        return
    try:
        view = store().view(code)
    except rooms.RoomError as exc:
        _leave(exc)
        return
    st.session_state[SEEN] = view.version
    if st.session_state.get(APPLIED) == view.version:
        return
    st.session_state[APPLIED] = view.version
    state = view.state
    for name, value in state.get("controls", {}).items():
        if name != "lang" and name in Controls.__dataclass_fields__:
            st.session_state[ctl.KEY + name] = value
    st.session_state["_room_lecturer_model"] = state.get("controls", {}).get("model")
    if state.get("controls", {}).get("model") in _PRIVATE_MODELS:
        st.session_state[ctl.KEY + "model"] = "fresh"
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith("wi_")]:
        del st.session_state[key]  # switches the lecturer no longer shows are back to the real model
    # The lecturer's remembered page-level choices (row, block, head, switches: ui/controls.py SELECTED) replace
    # the student's, then this run's widget keys (the stage, the head picked...) are set before any widget exists.
    st.session_state[SELECTED] = {str(k): v for k, v in state.get("selected", {}).items()}
    for key, value in state.get("keys", {}).items():
        if _MIRRORED.fullmatch(key):
            st.session_state[key] = value
    st.session_state[GOTO] = state.get("page")


# -- hook 2: after st.navigation, before the page runs ----------------------------------------------
def top(page, lang: str) -> None:
    goto = st.session_state.pop(GOTO, None)
    if goto is not None and goto != page.url_path and st.session_state.get(FOLLOW) and not is_lecturer():
        target = _page_for(goto, lang)
        if target is not None:
            st.switch_page(target)
    error = st.session_state.pop(ERROR, None)
    if error is not None:
        st.error(message(error, lang), icon="🏫")
    if st.session_state.get(ctl.PROJECTOR) and not st.session_state.get(CODE):
        with st.popover(t("room.title", lang), icon="🏫"):
            _start_or_join(lang)
    elif not st.session_state.get(ctl.PROJECTOR):
        with st.sidebar.expander(t("room.title", lang), icon="🏫", expanded=bool(st.session_state.get(CODE))):
            if st.session_state.get(CODE):
                st.caption(t("room.in_room", lang, code=st.session_state[CODE]))
                st.button(t("room.close" if is_lecturer() else "room.leave", lang), key="room_leave",
                          on_click=_close_or_leave)
            else:
                _start_or_join(lang)
    if not st.session_state.get(CODE):
        return
    if is_lecturer():
        _lecturer_bar(lang)
    else:
        st.session_state.setdefault(ctl.PAGE_PARAMS, {})["room"] = CODE  # a reload joins again
        if st.session_state.get(FOLLOW) and st.session_state.get("_room_lecturer_model") in _PRIVATE_MODELS:
            st.info(t("room.model_not_shared", lang), icon="🧠")
        following = bool(st.session_state.get(FOLLOW))
        cols = st.columns([4, 1], vertical_alignment="center")
        with cols[0]:
            _follower_poll(lang)
        cols[1].button(t("room.explore" if following else "room.follow", lang), key="room_toggle_follow",
                       width="stretch", on_click=_toggle_follow)
    poll.question(lang)


def _page_for(url_path: str, lang: str):
    from .sidebar import pages

    for group in pages(lang).values():
        for p in group:
            if p.url_path == url_path:
                return p
    return None


def _start_or_join(lang: str) -> None:
    st.button(t("room.start", lang), key="room_start", on_click=start, type="primary", icon="📣")
    with st.form("room_join_form", border=False):
        code = st.text_input(t("room.code_label", lang), key="room_join_code", max_chars=12,
                             placeholder="ABC234")
        if st.form_submit_button(t("room.join", lang)):
            join(code)
            st.rerun()


def _close_or_leave() -> None:
    code = st.session_state.get(CODE)
    try:
        if is_lecturer():
            store().close(code, st.session_state[SECRET])
        else:
            store().leave(code, member())
    except rooms.RoomError:
        pass
    _leave()


def join_link(code: str) -> str:
    base = (st.context.url or "").split("?")[0]
    base = re.sub(r"/[^/]*$", "/", base) if base.count("/") > 2 else base.rstrip("/") + "/"
    return f"{base}?room={code}"


def _lecturer_bar(lang: str) -> None:
    code = st.session_state[CODE]
    link = join_link(code)
    spaced = " ".join([code[:3], code[3:]])
    projector = bool(st.session_state.get(ctl.PROJECTOR))
    with st.expander(t("room.bar", lang, code=spaced), icon="🏫", expanded=True, key="room_lecturer"):
        left, right = st.columns([1, 3] if projector else [1, 6], vertical_alignment="center")
        left.image(qviews.qr_svg(link, scale=6 if projector else 4), width="content")
        right.markdown(t("room.join_at", lang, code=spaced, link=link))
        right.markdown(f"<div style='font-size:3em;font-weight:700;letter-spacing:0.15em'>{spaced}</div>",
                       unsafe_allow_html=True)
    cols = st.columns([4, 1], vertical_alignment="center")
    with cols[0]:
        _lecturer_counts(lang)
    with cols[1].popover(t("poll.ask", lang), icon="❓", width="stretch"):
        kinds = poll.kinds()
        kind = st.selectbox(t("poll.kind", lang), kinds, key="room_kind",
                            format_func=lambda k: t(f"poll.kind_{k}", lang))
        if st.button(t("poll.ask", lang), key="room_ask", type="primary", width="stretch"):
            store().ask(code, st.session_state[SECRET], poll.new_question(kind).to_dict())
            st.rerun()


@st.fragment(run_every=2.0)
def _lecturer_counts(lang: str) -> None:
    code, secret = st.session_state.get(CODE), st.session_state.get(SECRET)
    try:
        if time.monotonic() - st.session_state.get(BEAT, 0) > HEARTBEAT_S:
            store().touch(code, secret)
            st.session_state[BEAT] = time.monotonic()
        connected, following = store().counts(code)
    except rooms.RoomError as exc:
        _leave(exc)
        st.rerun()
    st.caption(t("room.counts", lang, connected=connected, following=following))


def _toggle_follow() -> None:
    st.session_state[FOLLOW] = not st.session_state.get(FOLLOW)
    st.session_state.pop(APPLIED, None)  # following again: take the lecturer's view at once
    st.session_state[BEAT] = 0           # and say so in the counts


@st.fragment(run_every=POLL_S)
def _follower_poll(lang: str) -> None:
    """Every POLL_S in the student's browser: one read of the room's version; the page is drawn again only when
    it moved (and, exploring, only for a new question or a reveal). No widget here: a click is never lost to it."""
    code = st.session_state.get(CODE)
    following = bool(st.session_state.get(FOLLOW))
    try:
        version = store().version(code)
        if time.monotonic() - st.session_state.get(BEAT, 0) > HEARTBEAT_S:
            store().heartbeat(code, member(), following)
            st.session_state[BEAT] = time.monotonic()
    except rooms.RoomError as exc:
        _leave(exc)
        st.rerun()
    if version != st.session_state.get(SEEN):
        st.session_state[SEEN] = version
        if following or _poll_changed(code):
            st.rerun()
    st.caption(t("room.following" if following else "room.exploring", lang, code=code))


def _poll_changed(code: str) -> bool:
    poll = store().view(code).poll
    now = None if poll is None else (poll.id, poll.revealed)
    changed = st.session_state.get("_room_poll_state") != now
    st.session_state["_room_poll_state"] = now
    return changed


# -- hook 3: after the page ran ------------------------------------------------------------------------
def after(page) -> None:
    """The lecturer publishes this run's view; on the Step page without a room, self-study."""
    if is_lecturer():
        st.session_state[PAGE] = page.url_path
        publish()
    elif not st.session_state.get(CODE) and page.url_path == "step":
        poll.self_study(ctl.lang())


def publish() -> None:
    """The lecturer's view to the store, if it changed: after every run, and after a fragment's rerun that
    changes a page value (ui/controls.sync_url calls it: the Attention page's head picker is a fragment)."""
    if not is_lecturer() or PAGE not in st.session_state:
        return
    c = dataclasses.asdict(ctl.controls())
    c.pop("lang", None)
    keys = {key: st.session_state[key] for key in st.session_state.get(ctl.PAGE_PARAMS, {}).values()
            if key in st.session_state}
    keys.update({k: st.session_state[k] for k in st.session_state if isinstance(k, str) and k.startswith("wi_")})
    state = {"page": st.session_state[PAGE], "controls": c, "keys": keys, "selected": st.session_state.get(SELECTED, {})}
    text = json.dumps(state, sort_keys=True, default=str)
    if st.session_state.get(PUBLISHED) != text:
        try:
            store().publish(st.session_state[CODE], st.session_state[SECRET], json.loads(text))
            st.session_state[PUBLISHED] = text
        except rooms.RoomError as exc:
            _leave(exc)
