"""Predict, then reveal, on screen: the lecturer's question with its live histogram and Reveal, a student's answer
(one each, changeable until the reveal), and self-study on the Step page without a room (a score in the session).
The questions come from minigpt/questions.py (the model's own numbers), the figures from minigpt/views/questions.py;
ui/room.py calls `question()` at the top of every page in a room and `self_study()` under the Step page."""
from __future__ import annotations

import re

import streamlit as st

from minigpt import questions, rooms
from minigpt.model import Switches
from minigpt.text import t
from minigpt.views import questions as qviews

from . import controls as ctl
from . import room

STUDY = "_study"   # self-study: the question, whether it is revealed, the score


def _store():
    return room.store()


@st.fragment(run_every=1.0)
def _live_tally(lang: str, question: questions.Question, poll_id: int) -> None:
    try:
        counts = _store().tally(st.session_state[room.CODE], poll_id)
    except (rooms.RoomError, KeyError):
        return
    st.plotly_chart(qviews.tally_bars(question, counts, lang, revealed=False), key="room_tally_live",
                    config={"displayModeBar": False})


# -- questions ----------------------------------------------------------------------------------------
def _where() -> tuple[int, int, int]:
    """(block, head, row) of the current view: the Step page's stage names the block."""
    stage = str(st.session_state.get("step_stage", ""))
    found = re.match(r"blocks\.(\d+)\.", stage)
    block = int(found.group(1)) if found else int(st.session_state.get("p_block", 0) or 0)
    return block, int(st.session_state.get("p_head", 0) or 0), int(st.session_state.get("p_row", 0) or 0)


def new_question(kind: str) -> questions.Question:
    """A question from the real model (no what-if switch) on the current view's input."""
    from . import workspace as wsp

    ws = wsp.workspace()
    block, head, row = _where()
    block, head = min(block, ws.config.num_blocks - 1), min(head, ws.config.num_heads - 1)
    row = min(row, ws.walk.batch_size - 1)
    return questions.make(kind, ws.trace(Switches()), labels=ws.labels(row), texts=ws.texts(row), vocab=ws.vocab,
                          block=block, head=head, row=row)


def kinds() -> tuple[str, ...]:
    c = ctl.controls()
    try:
        config = c.model_config()
    except ValueError:
        return ()
    return questions.available(config.num_heads, 2)


def question(lang: str) -> None:
    code = st.session_state[room.CODE]
    try:
        poll = _store().view(code).poll
    except rooms.RoomError as exc:
        room._leave(exc)
        return
    if room.is_lecturer():
        if poll is None:
            return
        question = questions.Question.from_dict(poll.question)
        with st.container(border=True, key="room_poll_lecturer"):
            st.subheader(question.prompt(lang))
            if poll.revealed:
                _revealed(question, _store().tally(code, poll.id), lang, None, key="room_reveal")
                st.button(t("poll.end", lang), key="room_end_btn", on_click=_end)
            else:
                _live_tally(lang, question, poll.id)
                st.button(t("poll.reveal", lang), key="room_reveal_btn", type="primary", on_click=_reveal,
                          args=(poll.id,))
        return
    if poll is None:
        return
    question = questions.Question.from_dict(poll.question)
    with st.container(border=True, key="room_poll_student"):
        st.subheader(question.prompt(lang))
        mine = _store().my_answer(code, room.member(), poll.id)
        if poll.revealed:
            _revealed(question, _store().tally(code, poll.id), lang, mine, key="room_reveal")
            return
        labels = question.labels(lang)
        st.radio(t("poll.your_answer", lang), range(len(labels)), index=mine, key=f"room_answer_{poll.id}",
                 format_func=labels.__getitem__, horizontal=True, on_change=_send_answer, args=(poll.id,))
        st.caption(t("poll.answered" if mine is not None else "poll.not_answered", lang))


def _end() -> None:
    try:
        _store().end_poll(st.session_state[room.CODE], st.session_state[room.SECRET])
    except rooms.RoomError as exc:
        st.session_state[room.ERROR] = exc


def _reveal(poll_id: int) -> None:
    try:
        _store().reveal(st.session_state[room.CODE], st.session_state[room.SECRET], poll_id)
    except rooms.RoomError as exc:
        st.session_state[room.ERROR] = exc


def _send_answer(poll_id: int) -> None:
    choice = st.session_state.get(f"room_answer_{poll_id}")
    if choice is None:
        return
    try:
        _store().answer(st.session_state[room.CODE], room.member(), poll_id, int(choice))
    except rooms.RoomError as exc:
        st.session_state[room.ERROR] = exc


def _revealed(question: questions.Question, counts: list[int] | None, lang: str, mine: int | None, *, key: str) -> None:
    labels = question.labels(lang)
    st.success(t(f"poll.answer_{question.kind}", lang, answer=labels[question.answer],
                 value=question.values[question.answer]), icon="🎯")
    if mine is not None:
        st.write(t("poll.you_right" if question.correct(mine) else "poll.you_wrong", lang, mine=labels[mine]))
    left, right = st.columns(2)
    left.plotly_chart(qviews.model_bars(question, lang), key=key + "_model", config={"displayModeBar": False})
    if counts is not None:
        right.plotly_chart(qviews.tally_bars(question, counts, lang, revealed=True), key=key + "_tally",
                           config={"displayModeBar": False})


def self_study(lang: str) -> None:
    choices = kinds()
    if not choices:
        return
    study = st.session_state.setdefault(STUDY, {"question": None, "revealed": False, "right": 0, "asked": 0})
    with st.expander(t("poll.self_title", lang), icon="🧠", expanded=study["question"] is not None):
        cols = st.columns([3, 1], vertical_alignment="bottom")
        kind = cols[0].selectbox(t("poll.kind", lang), choices, key="study_kind",
                                 format_func=lambda k: t(f"poll.kind_{k}", lang))
        if cols[1].button(t("poll.new_question", lang), key="study_new", width="stretch"):
            study.update(question=new_question(kind).to_dict(), revealed=False)
            st.session_state.pop("study_answer", None)
        if study["question"] is None:
            st.caption(t("poll.self_intro", lang))
            return
        question = questions.Question.from_dict(study["question"])
        st.subheader(question.prompt(lang))
        labels = question.labels(lang)
        choice = st.radio(t("poll.your_answer", lang), range(len(labels)), index=None, key="study_answer",
                          format_func=labels.__getitem__, horizontal=True, disabled=study["revealed"])
        if not study["revealed"] and st.button(t("poll.reveal", lang), key="study_reveal", disabled=choice is None):
            study.update(revealed=True, asked=study["asked"] + 1, right=study["right"] + question.correct(choice))
            st.rerun()
        if study["revealed"]:
            _revealed(question, None, lang, choice, key="study_reveal_fig")
        st.caption(t("poll.score", lang, right=study["right"], asked=study["asked"]))
