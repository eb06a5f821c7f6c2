"""Class rooms: a lecturer drives, students follow. The one interface the app uses (`Rooms`) and its one
implementation today, SQLite in WAL mode (`SQLiteRooms`), so every `streamlit run` process behind nginx on one
machine shares the same rooms (deploy/). No Streamlit here.

What is stored, and nothing more: a random room code, a hash of the lecturer's secret, the lecturer's published
view (page, stage, controls: what the projector shows anyway), the current question and, per anonymous member id
(a random token the browser session made up), a last-seen time, whether it follows, and its answer to the
current question. No names, no addresses, no student's text, model or answer is ever returned to another student:
only `tally()` (counts) and `counts()` (connected / following) leave the store.

Moving to a shared server store (a class outgrows one machine): implement `Rooms` on Postgres or Redis (the
same methods; `version()` is the one called every second by every follower, so it must stay one indexed
read), and point `open_rooms()` at it. Nothing else in the app changes.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .text import TextError

DATA_DIR_ENV = "MINIGPT_DATA_DIR"     # the one setting: where rooms.sqlite3 lives
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: a code read off a projector
CODE_LENGTH = 6                       # 31**6 ≈ 887 million codes, drawn with the secrets module
EXPIRE_S = 4 * 3600                   # a room without lecturer activity for this long is gone
CONNECTED_S = 20                      # a member seen within this many seconds counts as connected
_CODE = re.compile(rf"[{ALPHABET}]{{{CODE_LENGTH}}}")


class RoomError(TextError):
    """A room problem a user reads (wrong code, expired room, not the lecturer)."""


class BadRoomCode(RoomError):
    def __init__(self, code: str):
        super().__init__("room.err_bad_code", code=code[:20], n=CODE_LENGTH)


class RoomNotFound(RoomError):
    def __init__(self, code: str):
        super().__init__("room.err_not_found", code=code)


class NotLecturer(RoomError):
    def __init__(self):
        super().__init__("room.err_not_lecturer")


class PollClosed(RoomError):
    def __init__(self):
        super().__init__("room.err_poll_closed")


def data_dir() -> Path:
    """$MINIGPT_DATA_DIR, else the per-user cache ($XDG_CACHE_HOME or ~/.cache)/minigpt."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "minigpt"


def normalize_code(raw: str) -> str:
    """A typed or linked code in canonical form ("ab c-123" -> "ABC123"); BadRoomCode if it cannot be one."""
    code = re.sub(r"[\s\-]", "", str(raw or "")).upper()
    if not _CODE.fullmatch(code):
        raise BadRoomCode(str(raw or ""))
    return code


def new_member_id() -> str:
    """An anonymous id for one browser session (random; says nothing about the person)."""
    return secrets.token_urlsafe(12)


@dataclass(frozen=True)
class Poll:
    id: int
    question: dict      # minigpt.questions.Question.to_dict()
    revealed: bool


@dataclass(frozen=True)
class RoomView:
    """What any member may read: the lecturer's view and the current question."""
    code: str
    version: int        # bumps on every change a follower must draw (view, question, reveal)
    state: dict
    poll: Poll | None


class Rooms:
    """The interface. `secret` is what `create()` returned to the lecturer's session; only it can drive."""

    def create(self) -> tuple[str, str]: ...                          # (code, secret)
    def version(self, code: str) -> int: ...                          # cheap: every follower, every second
    def view(self, code: str) -> RoomView: ...
    def publish(self, code: str, secret: str, state: dict) -> int: ...  # new version (same if unchanged)
    def ask(self, code: str, secret: str, question: dict) -> int: ...   # the new poll's id
    def reveal(self, code: str, secret: str, poll_id: int) -> None: ...
    def end_poll(self, code: str, secret: str) -> None: ...
    def answer(self, code: str, member: str, poll_id: int, choice: int) -> None: ...
    def my_answer(self, code: str, member: str, poll_id: int) -> int | None: ...
    def tally(self, code: str, poll_id: int) -> list[int]: ...         # answers per choice
    def heartbeat(self, code: str, member: str, following: bool) -> None: ...
    def leave(self, code: str, member: str) -> None: ...
    def counts(self, code: str) -> tuple[int, int]: ...                 # (connected, following)
    def touch(self, code: str, secret: str) -> None: ...
    def close(self, code: str, secret: str) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (code TEXT PRIMARY KEY, secret TEXT NOT NULL, created REAL NOT NULL,
    active REAL NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL, poll_id INTEGER NOT NULL DEFAULT 0,
    question TEXT, revealed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS members (code TEXT NOT NULL, member TEXT NOT NULL, seen REAL NOT NULL,
    following INTEGER NOT NULL, PRIMARY KEY (code, member));
CREATE TABLE IF NOT EXISTS answers (code TEXT NOT NULL, poll_id INTEGER NOT NULL, member TEXT NOT NULL,
    choice INTEGER NOT NULL, PRIMARY KEY (code, poll_id, member));
"""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class SQLiteRooms(Rooms):
    """Rooms in one SQLite file (WAL: readers never wait for the writer; several processes share it).
    One connection per thread (Streamlit runs each session's script in its own thread)."""

    def __init__(self, path: str | Path | None = None, *, expire_s: float = EXPIRE_S, clock=time.time):
        self.path = Path(path) if path is not None else data_dir() / "rooms.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.expire_s, self.clock = expire_s, clock
        self._local = threading.local()
        self._db().executescript(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

    class _Tx:
        def __init__(self, db):
            self.db = db

        def __enter__(self):
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, kind, *_):
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")

    def _write(self):
        return self._Tx(self._db())

    def _row(self, db, code: str, columns: str):
        code = normalize_code(code)
        row = db.execute(f"SELECT active, {columns} FROM rooms WHERE code = ?", (code,)).fetchone()
        if row is None or self.clock() - row[0] > self.expire_s:
            raise RoomNotFound(code)
        return code, row[1:]

    def _lecturer(self, db, code: str, secret: str) -> str:
        code, (stored,) = self._row(db, code, "secret")
        if not hmac.compare_digest(stored, _hash(str(secret))):
            raise NotLecturer()
        return code

    def create(self) -> tuple[str, str]:
        now = self.clock()
        secret = secrets.token_urlsafe(24)
        with self._write() as db:
            self._purge(db, now)
            for _ in range(20):
                code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
                if db.execute("SELECT 1 FROM rooms WHERE code = ?", (code,)).fetchone() is None:
                    break
            db.execute("INSERT INTO rooms (code, secret, created, active, version, state) VALUES (?, ?, ?, ?, 1, '{}')",
                       (code, _hash(secret), now, now))
        return code, secret

    def _purge(self, db, now: float) -> None:
        old = [r[0] for r in db.execute("SELECT code FROM rooms WHERE active < ?", (now - self.expire_s,))]
        for table in ("answers", "members", "rooms"):
            db.executemany(f"DELETE FROM {table} WHERE code = ?", [(c,) for c in old])

    def version(self, code: str) -> int:
        return self._row(self._db(), code, "version")[1][0]

    def view(self, code: str) -> RoomView:
        code, (version, state, poll_id, question, revealed) = self._row(
            self._db(), code, "version, state, poll_id, question, revealed")
        poll = Poll(poll_id, json.loads(question), bool(revealed)) if question else None
        return RoomView(code, version, json.loads(state), poll)

    def publish(self, code: str, secret: str, state: dict) -> int:
        text = json.dumps(state, sort_keys=True, ensure_ascii=False)
        with self._write() as db:
            code = self._lecturer(db, code, secret)
            version, old = db.execute("SELECT version, state FROM rooms WHERE code = ?", (code,)).fetchone()
            if old != text:
                version += 1
            db.execute("UPDATE rooms SET state = ?, version = ?, active = ? WHERE code = ?",
                       (text, version, self.clock(), code))
        return version

    def ask(self, code: str, secret: str, question: dict) -> int:
        with self._write() as db:
            code = self._lecturer(db, code, secret)
            db.execute("UPDATE rooms SET poll_id = poll_id + 1, question = ?, revealed = 0, version = version + 1, "
                       "active = ? WHERE code = ?", (json.dumps(question, ensure_ascii=False), self.clock(), code))
            poll_id = db.execute("SELECT poll_id FROM rooms WHERE code = ?", (code,)).fetchone()[0]
            db.execute("DELETE FROM answers WHERE code = ? AND poll_id < ?", (code, poll_id))
        return poll_id

    def reveal(self, code: str, secret: str, poll_id: int) -> None:
        with self._write() as db:
            code = self._lecturer(db, code, secret)
            db.execute("UPDATE rooms SET revealed = 1, version = version + 1, active = ? WHERE code = ? AND poll_id = ?",
                       (self.clock(), code, poll_id))

    def end_poll(self, code: str, secret: str) -> None:
        """No question on screen any more (its answers are deleted)."""
        with self._write() as db:
            code = self._lecturer(db, code, secret)
            db.execute("UPDATE rooms SET question = NULL, revealed = 0, version = version + 1, active = ? WHERE code = ?",
                       (self.clock(), code))
            db.execute("DELETE FROM answers WHERE code = ?", (code,))

    def answer(self, code: str, member: str, poll_id: int, choice: int) -> None:
        with self._write() as db:
            code, (current, question, revealed) = self._row(db, code, "poll_id, question, revealed")
            if question is None or current != poll_id or revealed:
                raise PollClosed()
            if not 0 <= int(choice) < len(json.loads(question)["choices"]):
                raise PollClosed()
            db.execute("INSERT OR REPLACE INTO answers (code, poll_id, member, choice) VALUES (?, ?, ?, ?)",
                       (code, poll_id, str(member)[:64], int(choice)))

    def my_answer(self, code: str, member: str, poll_id: int) -> int | None:
        """This member's own answer (only ever shown to that member's session)."""
        row = self._db().execute("SELECT choice FROM answers WHERE code = ? AND poll_id = ? AND member = ?",
                                 (normalize_code(code), poll_id, member)).fetchone()
        return None if row is None else row[0]

    def tally(self, code: str, poll_id: int) -> list[int]:
        db = self._db()
        code, (question,) = self._row(db, code, "question")
        counts = [0] * (len(json.loads(question)["choices"]) if question else 0)
        for choice, n in db.execute("SELECT choice, COUNT(*) FROM answers WHERE code = ? AND poll_id = ? "
                                    "GROUP BY choice", (code, poll_id)):
            if 0 <= choice < len(counts):
                counts[choice] = n
        return counts

    def heartbeat(self, code: str, member: str, following: bool) -> None:
        with self._write() as db:
            code, _ = self._row(db, code, "version")
            db.execute("INSERT OR REPLACE INTO members (code, member, seen, following) VALUES (?, ?, ?, ?)",
                       (code, str(member)[:64], self.clock(), int(bool(following))))

    def leave(self, code: str, member: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM members WHERE code = ? AND member = ?", (normalize_code(code), member))

    def counts(self, code: str) -> tuple[int, int]:
        db = self._db()
        code, _ = self._row(db, code, "version")
        row = db.execute("SELECT COUNT(*), COALESCE(SUM(following), 0) FROM members WHERE code = ? AND seen >= ?",
                         (code, self.clock() - CONNECTED_S)).fetchone()
        return int(row[0]), int(row[1])

    def touch(self, code: str, secret: str) -> None:
        """The lecturer is still there (keeps the room from expiring while the view does not change)."""
        with self._write() as db:
            code = self._lecturer(db, code, secret)
            db.execute("UPDATE rooms SET active = ? WHERE code = ?", (self.clock(), code))

    def close(self, code: str, secret: str) -> None:
        with self._write() as db:
            code = self._lecturer(db, code, secret)
            for table in ("answers", "members", "rooms"):
                db.execute(f"DELETE FROM {table} WHERE code = ?", (code,))


_OPEN: dict[Path, SQLiteRooms] = {}
_OPEN_LOCK = threading.Lock()


def open_rooms(path: str | Path | None = None) -> SQLiteRooms:
    """The process's store for path (default: data_dir()/rooms.sqlite3), opened once."""
    key = Path(path) if path is not None else data_dir() / "rooms.sqlite3"
    with _OPEN_LOCK:
        if key not in _OPEN:
            _OPEN[key] = SQLiteRooms(key)
        return _OPEN[key]
