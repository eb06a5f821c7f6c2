"""The class-room store (minigpt/rooms.py): exact counts under concurrency, expiry, only the lecturer drives,
bad codes get a clear message, and what a student can read of others (counts only)."""
from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from minigpt import rooms
from minigpt.rooms import BadRoomCode, NotLecturer, PollClosed, RoomNotFound, SQLiteRooms

QUESTION = {"kind": "next", "choices": ["a", "b", "c", "d"], "answer": 2, "values": [0.1, 0.2, 0.6, 0.1]}


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def store(tmp_path):
    return SQLiteRooms(tmp_path / "rooms.sqlite3")


def test_wal_mode_and_codes(store, tmp_path):
    code, secret = store.create()
    assert rooms._CODE.fullmatch(code) and len(secret) >= 24
    assert secret not in code
    with sqlite3.connect(tmp_path / "rooms.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        stored = db.execute("SELECT secret FROM rooms").fetchone()[0]
    assert stored != secret  # only a hash of the lecturer's secret is stored
    codes = {store.create()[0] for _ in range(30)}
    assert len(codes) == 30
    assert not any(set(c) & set("01OIL") for c in codes)  # nothing to misread off a projector


def test_forty_concurrent_answers_are_counted_exactly(tmp_path):
    path = tmp_path / "rooms.sqlite3"
    lecturer = SQLiteRooms(path)
    code, secret = lecturer.create()
    poll = lecturer.ask(code, secret, QUESTION)
    # 40 sessions answer at once (each thread its own connection, as Streamlit's script threads are); 10 of
    # them change their mind once: one answer each, the last one counts.
    students = [SQLiteRooms(path) for _ in range(4)]  # several processes' worth of stores on one file
    barrier = threading.Barrier(40)

    def answer(i):
        s = students[i % 4]
        member = f"m{i}"
        barrier.wait()
        s.heartbeat(code, member, following=i % 5 != 0)
        s.answer(code, member, poll, i % 4)
        if i < 10:
            s.answer(code, member, poll, 3)

    with ThreadPoolExecutor(40) as pool:
        list(pool.map(answer, range(40)))
    tally = lecturer.tally(code, poll)
    assert sum(tally) == 40
    assert tally == [sum(1 for i in range(10, 40) if i % 4 == c) + (10 if c == 3 else 0) for c in range(4)]
    assert lecturer.counts(code) == (40, 32)
    assert lecturer.my_answer(code, "m0", poll) == 3 and lecturer.my_answer(code, "m13", poll) == 1


def test_student_cannot_drive_the_room(store):
    code, secret = store.create()
    for wrong in ("", "guess", code, secret[:-1] + ("x" if secret[-1] != "x" else "y")):
        with pytest.raises(NotLecturer):
            store.publish(code, wrong, {"page": "step"})
        with pytest.raises(NotLecturer):
            store.ask(code, wrong, QUESTION)
        with pytest.raises(NotLecturer):
            store.reveal(code, wrong, 1)
        with pytest.raises(NotLecturer):
            store.close(code, wrong)
    assert store.view(code).state == {}
    assert store.publish(code, secret, {"page": "step"}) == 2
    assert store.publish(code, secret, {"page": "step"}) == 2  # unchanged: no new version, followers stay put
    assert "lecturer" in NotLecturer().text("en")


@pytest.mark.parametrize("raw", ["", "ABC", "ABCDEFG", "ABC12!", "ABCDE0", "../../etc", "ABCDE\u0661", "' OR 1=1 --"])
def test_tampered_code_gets_a_clear_message(store, raw):
    with pytest.raises(BadRoomCode) as info:
        store.version(raw)
    assert "6 letters and digits" in info.value.text("en")
    assert "6 个字母和数字" in info.value.text("zh")


def test_unknown_code_gets_a_clear_message(store):
    code, _ = store.create()
    other = "".join("Z" if ch != "Z" else "Y" for ch in code)
    with pytest.raises(RoomNotFound) as info:
        store.view(other)
    assert other in info.value.text("en") and "expired" in info.value.text("en")
    assert rooms.normalize_code(f" {code[:3].lower()}-{code[3:]} ") == code  # typed with a space, lower case


def test_expired_room_is_gone(tmp_path):
    clock = Clock()
    store = SQLiteRooms(tmp_path / "r.sqlite3", expire_s=3600, clock=clock)
    code, secret = store.create()
    poll = store.ask(code, secret, QUESTION)
    store.answer(code, "m", poll, 1)
    clock.now += 3000
    store.touch(code, secret)            # the lecturer is still there
    clock.now += 3000
    assert store.version(code) >= 1      # 3000 s after the last activity: alive
    clock.now += 700
    with pytest.raises(RoomNotFound):    # 3700 s: gone, for students and lecturer alike
        store.version(code)
    with pytest.raises(RoomNotFound):
        store.publish(code, secret, {})
    store.create()                       # the next create purges it from the file
    with sqlite3.connect(tmp_path / "r.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM rooms WHERE code = ?", (code,)).fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM answers WHERE code = ?", (code,)).fetchone()[0] == 0


def test_poll_life_cycle(store):
    code, secret = store.create()
    v0 = store.version(code)
    first = store.ask(code, secret, QUESTION)
    assert store.version(code) > v0
    store.answer(code, "a", first, 0)
    second = store.ask(code, secret, QUESTION)  # a new question: the old answers are gone
    with pytest.raises(PollClosed):
        store.answer(code, "a", first, 1)
    assert store.tally(code, second) == [0, 0, 0, 0]
    with pytest.raises(PollClosed):
        store.answer(code, "a", second, 9)      # not a choice
    store.answer(code, "a", second, 2)
    store.reveal(code, secret, second)
    view = store.view(code)
    assert view.poll.revealed and view.poll.question["answer"] == 2
    with pytest.raises(PollClosed):              # answers are final once revealed
        store.answer(code, "b", second, 1)
    assert store.tally(code, second) == [0, 0, 1, 0]
    store.end_poll(code, secret)
    assert store.view(code).poll is None


def test_a_student_reads_only_the_lecturer_view_and_counts(store):
    code, secret = store.create()
    store.publish(code, secret, {"page": "step", "controls": {"text": "the lecturer's text"}})
    poll = store.ask(code, secret, QUESTION)
    store.answer(code, "alice-session", poll, 1)
    view = store.view(code)
    dumped = repr(view)
    assert "alice-session" not in dumped and "the lecturer's text" in dumped
    assert store.tally(code, poll) == [0, 1, 0, 0]  # counts, not who


def test_data_dir_setting(tmp_path, monkeypatch):
    monkeypatch.setenv(rooms.DATA_DIR_ENV, str(tmp_path / "class"))
    assert rooms.data_dir() == tmp_path / "class"
    store = rooms.open_rooms()
    assert store.path == tmp_path / "class" / "rooms.sqlite3" and store.path.exists()
    assert rooms.open_rooms() is store
    monkeypatch.delenv(rooms.DATA_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert rooms.data_dir() == tmp_path / "cache" / "minigpt"
