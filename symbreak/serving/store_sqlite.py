"""The class store in one SQLite file: for a class served from one machine (`symbreak serve`'s processes share it).

WAL mode lets the board read while a student writes; every write that depends on a read takes the write lock
first (BEGIN IMMEDIATE), so limits and closed rounds hold across processes. Expired classes are filtered out of
every query and deleted when a class is opened.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from symbreak.serving.store import (
    DEFAULT_TTL_SECONDS,
    MAX_ABOUT_BYTES,
    MAX_ROW_BYTES,
    ClassError,
    NewClass,
    Store,
    StoreDown,
    board_row,
    check_ballot,
    check_ttl,
    clean_name,
    display_names,
    hash_key,
    key_matches,
    labelled,
    new_code,
    normalise_code,
    state_changes,
    to_json,
    with_closed,
)

# How long a call waits for another process's write before the store counts as down.
BUSY_SECONDS = 2.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
    code TEXT PRIMARY KEY, key_hash TEXT NOT NULL, expires_at REAL NOT NULL, state TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS classes_by_expiry ON classes (expires_at);
CREATE TABLE IF NOT EXISTS students (
    code TEXT NOT NULL REFERENCES classes (code) ON DELETE CASCADE, student TEXT NOT NULL, name TEXT NOT NULL,
    joined_at REAL NOT NULL, row TEXT, updated_at REAL, UNIQUE (code, student)
);
CREATE TABLE IF NOT EXISTS polls (
    code TEXT NOT NULL REFERENCES classes (code) ON DELETE CASCADE, poll TEXT NOT NULL, UNIQUE (code, poll)
);
CREATE TABLE IF NOT EXISTS about (
    code TEXT NOT NULL REFERENCES classes (code) ON DELETE CASCADE, poll TEXT NOT NULL, about TEXT NOT NULL,
    PRIMARY KEY (code, poll)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS closed (
    code TEXT NOT NULL REFERENCES classes (code) ON DELETE CASCADE, poll TEXT NOT NULL, round INTEGER NOT NULL,
    PRIMARY KEY (code, poll, round)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS votes (
    code TEXT NOT NULL, student TEXT NOT NULL, poll TEXT NOT NULL, round INTEGER NOT NULL, answer TEXT NOT NULL,
    PRIMARY KEY (code, poll, round, student),
    FOREIGN KEY (code, student) REFERENCES students (code, student) ON DELETE CASCADE
) WITHOUT ROWID;
"""
_OPEN = "SELECT key_hash, state FROM classes WHERE code = ? AND expires_at > ?"
_MEMBER = ("SELECT 1 FROM students JOIN classes USING (code) "
           "WHERE code = ? AND student = ? AND expires_at > ?")


def _board_row(name: str, joined_at: float, row: str | None, updated_at: float | None) -> dict:
    return board_row(name, joined_at, json.loads(row) if row else None, updated_at)


class SqliteStore(Store):
    """Classes in one SQLite file, through one connection per store that its threads take in turn."""

    def __init__(self, path: str | Path, *, busy_seconds: float = BUSY_SECONDS, **limits: int) -> None:
        super().__init__(**limits)
        self.path = Path(path)
        self._busy_seconds = busy_seconds
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        """The open connection, made (with the folder and the tables) on first use or after close_store."""
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=self._busy_seconds, isolation_level=None,
                                 check_same_thread=False)
            try:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
                db.execute("PRAGMA foreign_keys = ON")
                db.executescript(SCHEMA)
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    @contextmanager
    def _session(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection for one call, inside a write transaction when `write`; a file or lock problem is
        StoreDown."""
        with self._lock:
            try:
                db = self._connect()
                if not write:
                    yield db
                    return
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                    db.execute("COMMIT")
                finally:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
            except (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError):
                raise
            except (sqlite3.DatabaseError, OSError) as exc:
                raise StoreDown(f"class store {self.path} cannot be used: {exc}") from None

    def _teacher(self, db: sqlite3.Connection, code: str, key: str, now: float) -> dict:
        """The state of open class `code` once `key` proved to be its teacher's; ClassError otherwise."""
        found = db.execute(_OPEN, (code, now)).fetchone()
        if found is None:
            raise self._no_class(code)
        if not key_matches(key, found[0]):
            raise self._wrong_key(code)
        return json.loads(found[1])

    def _save_state(self, db: sqlite3.Connection, code: str, state: dict) -> dict:
        """Write the state with its version bumped; returns it as state() shows it."""
        state["version"] = int(state.get("version", 0)) + 1
        db.execute("UPDATE classes SET state = ? WHERE code = ?", (json.dumps(state, ensure_ascii=False), code))
        return self._with_closed(db, code, state)

    def _not_member(self, db: sqlite3.Connection, code: str, now: float) -> ClassError:
        """Why a student id is not in class `code`: the class is gone, or they are not in it."""
        return self._unknown_student(code) if db.execute(_OPEN, (code, now)).fetchone() else self._no_class(code)

    @staticmethod
    def _with_closed(db: sqlite3.Connection, code: str, state: dict) -> dict:
        return with_closed(state, db.execute("SELECT poll, round FROM closed WHERE code = ?", (code,)).fetchall())

    def new_class(self, ttl: float = DEFAULT_TTL_SECONDS) -> NewClass:
        now, ttl = time.time(), check_ttl(ttl)
        key = secrets.token_urlsafe(24)
        with self._session(write=True) as db:
            db.execute("DELETE FROM classes WHERE expires_at <= ?", (now,))
            if db.execute("SELECT count(*) FROM classes").fetchone()[0] >= self.max_open_classes:
                raise self._too_many_classes()
            while True:
                code = new_code()
                added = db.execute("INSERT OR IGNORE INTO classes VALUES (?, ?, ?, ?)",
                                   (code, hash_key(key), now + ttl, json.dumps({"version": 0})))
                if added.rowcount == 1:
                    return NewClass(code, key)

    def exists(self, code: str) -> bool:
        try:
            code = normalise_code(code)
        except ClassError:
            return False
        with self._session() as db:
            return db.execute(_OPEN, (code, time.time())).fetchone() is not None

    def close(self, code: str, key: str) -> None:
        code = normalise_code(code)
        with self._session(write=True) as db:
            self._teacher(db, code, key, time.time())
            db.execute("DELETE FROM classes WHERE code = ?", (code,))

    def check_key(self, code: str, key: str) -> bool:
        try:
            code = normalise_code(code)
        except ClassError:
            return False
        with self._session() as db:
            found = db.execute(_OPEN, (code, time.time())).fetchone()
        return key_matches(key, found[0] if found else None)

    def join(self, code: str, name: str) -> str:
        code, name, now = normalise_code(code), clean_name(name, self.max_name), time.time()
        student = secrets.token_urlsafe(16)
        with self._session(write=True) as db:
            if db.execute(_OPEN, (code, now)).fetchone() is None:
                raise self._no_class(code)
            if db.execute("SELECT count(*) FROM students WHERE code = ?", (code,)).fetchone()[0] >= self.max_students:
                raise self._full(code)
            db.execute("INSERT INTO students (code, student, name, joined_at) VALUES (?, ?, ?, ?)",
                       (code, student, name, now))
        return student

    def publish(self, code: str, student: str, row: dict) -> None:
        code, now = normalise_code(code), time.time()
        if not isinstance(row, dict):
            raise ClassError(f"row: a dict of the student's numbers (got {type(row).__name__})")
        text = to_json(row, "row", MAX_ROW_BYTES)
        with self._session() as db:
            done = db.execute("UPDATE students SET row = ?, updated_at = ? WHERE code = ? AND student = ? AND "
                              "EXISTS (SELECT 1 FROM classes WHERE code = ? AND expires_at > ?)",
                              (text, now, code, str(student), code, now))
            if done.rowcount == 0:
                raise self._not_member(db, code, now)

    def own_row(self, code: str, student: str) -> dict | None:
        code = normalise_code(code)
        with self._session() as db:
            found = db.execute("SELECT name, joined_at, row, updated_at FROM students JOIN classes USING (code) "
                               "WHERE code = ? AND student = ? AND expires_at > ?",
                               (code, str(student), time.time())).fetchone()
        return _board_row(*found) if found else None

    def rows(self, code: str, key: str) -> list[dict]:
        code = normalise_code(code)
        with self._session() as db:
            self._teacher(db, code, key, time.time())
            found = db.execute("SELECT name, joined_at, row, updated_at FROM students WHERE code = ? ORDER BY rowid",
                               (code,)).fetchall()
        return labelled([_board_row(*row) for row in found])

    def set_state(self, code: str, key: str, **changes: object) -> dict:
        code, texts = normalise_code(code), state_changes(changes)
        with self._session(write=True) as db:
            state = self._teacher(db, code, key, time.time())
            state.update({name: json.loads(text) for name, text in texts.items()})
            return self._save_state(db, code, state)

    def state(self, code: str) -> dict:
        code = normalise_code(code)
        with self._session() as db:
            found = db.execute(_OPEN, (code, time.time())).fetchone()
            if found is None:
                raise self._no_class(code)
            return self._with_closed(db, code, json.loads(found[1]))

    def close_round(self, code: str, key: str, poll: str, round: int) -> dict:
        code = normalise_code(code)
        check_ballot(poll, round)
        with self._session(write=True) as db:
            state = self._teacher(db, code, key, time.time())
            db.execute("INSERT OR IGNORE INTO polls VALUES (?, ?)", (code, poll))
            db.execute("INSERT OR IGNORE INTO closed VALUES (?, ?, ?)", (code, poll, round))
            return self._save_state(db, code, state)

    def vote(self, code: str, student: str, poll: str, round: int, answer: str) -> None:
        code, now = normalise_code(code), time.time()
        check_ballot(poll, round, answer)
        with self._session(write=True) as db:
            if db.execute(_MEMBER, (code, str(student), now)).fetchone() is None:
                raise self._not_member(db, code, now)
            if db.execute("SELECT 1 FROM closed WHERE code = ? AND poll = ? AND round = ?",
                          (code, poll, round)).fetchone():
                raise self._round_closed(poll, round)
            db.execute("INSERT OR IGNORE INTO polls VALUES (?, ?)", (code, poll))
            db.execute("INSERT INTO votes VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET answer = excluded.answer",
                       (code, str(student), poll, round, answer))

    def votes(self, code: str, key: str, poll: str) -> dict[int, dict[str, str]]:
        code = normalise_code(code)
        with self._session() as db:
            self._teacher(db, code, key, time.time())
            students = db.execute("SELECT student, name FROM students WHERE code = ? ORDER BY rowid",
                                  (code,)).fetchall()
            found = db.execute("SELECT round, student, answer FROM votes WHERE code = ? AND poll = ? "
                               "ORDER BY round", (code, poll)).fetchall()
        shown = dict(zip((s for s, _ in students), display_names([n for _, n in students])))
        result: dict[int, dict[str, str]] = {}
        for round, student, answer in found:
            result.setdefault(round, {})[shown[student]] = answer
        return {round: dict(sorted(answers.items())) for round, answers in result.items()}

    def polls(self, code: str, key: str) -> list[str]:
        code = normalise_code(code)
        with self._session() as db:
            self._teacher(db, code, key, time.time())
            return [poll for (poll,) in db.execute("SELECT poll FROM polls WHERE code = ? ORDER BY rowid", (code,))]

    def describe_poll(self, code: str, student: str, poll: str, about: dict) -> None:
        code, now = normalise_code(code), time.time()
        check_ballot(poll, 0)
        text = to_json(about, "poll description", MAX_ABOUT_BYTES)
        with self._session(write=True) as db:
            if db.execute(_MEMBER, (code, str(student), now)).fetchone() is None:
                raise self._not_member(db, code, now)
            db.execute("INSERT OR IGNORE INTO about VALUES (?, ?, ?)", (code, poll, text))

    def poll_about(self, code: str, key: str, poll: str) -> dict:
        code = normalise_code(code)
        with self._session() as db:
            self._teacher(db, code, key, time.time())
            found = db.execute("SELECT about FROM about WHERE code = ? AND poll = ?", (code, poll)).fetchone()
        return json.loads(found[0]) if found else {}

    def own_vote(self, code: str, student: str, poll: str, round: int) -> str | None:
        code = normalise_code(code)
        check_ballot(poll, round)
        with self._session() as db:
            found = db.execute("SELECT answer FROM votes JOIN classes USING (code) WHERE code = ? AND poll = ? AND "
                               "round = ? AND student = ? AND expires_at > ?",
                               (code, poll, round, str(student), time.time())).fetchone()
        return found[0] if found else None

    def close_store(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
