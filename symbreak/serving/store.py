"""What a class store is: its limits, its two errors, the checks on what people type, and the contract that the
SQLite and Redis backends both implement, so that a page works the same on one machine and across pods."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # unambiguous: no 0/O, 1/I/L
CODE_LENGTH = 6
MAX_STUDENTS = 200
MAX_OPEN_CLASSES = 500
MAX_NAME = 24
DEFAULT_TTL_SECONDS = 12 * 3600
MAX_TTL_SECONDS = 7 * 24 * 3600
# A row is a student's summary (step, loss, a few numbers), read by the teacher's board every second.
MAX_ROW_BYTES = 16_384
MAX_STATE_BYTES = 65_536
MAX_POLL = 64
# A poll's description (its question, choices and measured answer), written by the first student who reaches it.
MAX_ABOUT_BYTES = 4096
MAX_ANSWER = 200
# Fields of the class state that the store keeps itself: set_state refuses them.
STORE_FIELDS = ("version", "closed")
# Bidirectional overrides reorder the text shown after them, so a name could disguise the names beside it.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class ClassError(Exception):
    """A user's mistake, said in one line (wrong code, class full, name too long/empty, wrong teacher key)."""


class StoreDown(Exception):
    """The store cannot be reached; callers keep working and retry later."""


@dataclass(frozen=True)
class NewClass:
    """A class just opened: the code students type, and the key only the teacher holds."""

    code: str
    teacher_key: str


def _shown(text: str, limit: int = 20) -> str:
    """User text quoted for a one-line message, cut to `limit` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def clean_name(name: str, limit: int = MAX_NAME) -> str:
    """The name with its ends stripped, each run of whitespace one space and control characters dropped.

    ClassError if nothing is left or it is longer than `limit` characters; the rest is kept exactly as typed."""
    if not isinstance(name, str):
        raise ClassError("name: type a name")
    kept = "".join(" " if ch.isspace() else ch for ch in name
                   if ch.isspace() or (unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS))
    cleaned = " ".join(kept.split())
    if not cleaned:
        raise ClassError("name is empty: type a name")
    if len(cleaned) > limit:
        raise ClassError(f"name is {len(cleaned)} characters long: use at most {limit}")
    return cleaned


def normalise_code(text: str) -> str:
    """The class code in `text`, upper-cased without spaces or dashes; ClassError if it is not one."""
    code = "".join(ch for ch in str(text).upper() if not ch.isspace() and ch != "-")
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        raise ClassError(f"{_shown(str(text))} is not a class code: a code is {CODE_LENGTH} letters and digits, "
                         "like K7MQ2P")
    return code


def hash_key(key: str) -> str:
    """The digest of a teacher key that the store keeps instead of the key."""
    return hashlib.sha256(str(key).encode("utf-8", "surrogatepass")).hexdigest()


def key_matches(key: str, stored_hash: str | None) -> bool:
    """Whether `key` is the one whose digest was stored, compared in constant time."""
    return hmac.compare_digest(hash_key(key), stored_hash or "")


def new_code() -> str:
    """A random class code from the unambiguous alphabet."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def to_json(value: object, what: str, limit: int) -> str:
    """`value` as compact JSON text of at most `limit` bytes; ClassError naming `what` otherwise."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ClassError(f"{what}: cannot be stored as JSON ({exc}): use numbers, text, lists and dicts") from None
    if len(text.encode("utf-8", "surrogatepass")) > limit:
        raise ClassError(f"{what}: over {limit:,} bytes as JSON: send less")
    return text


def check_ttl(ttl: float) -> float:
    """A class's lifetime in seconds; ClassError unless it is above 0 and at most MAX_TTL_SECONDS."""
    if not isinstance(ttl, (int, float)) or not math.isfinite(ttl) or not 0 < ttl <= MAX_TTL_SECONDS:
        raise ClassError(f"ttl: a class lasts more than 0 and at most {MAX_TTL_SECONDS // 3600} hours "
                         f"(got {ttl!r} seconds)")
    return float(ttl)


def check_ballot(poll: str, round: int, answer: str | None = None) -> None:
    """ClassError unless the poll id, the round and the answer are ones a store keeps."""
    if not isinstance(poll, str) or not 0 < len(poll) <= MAX_POLL:
        raise ClassError(f"poll: an id of 1 to {MAX_POLL} characters (got {_shown(str(poll))})")
    if isinstance(round, bool) or not isinstance(round, int) or round < 0:
        raise ClassError(f"round: a whole number from 0 (got {round!r})")
    if answer is not None and (not isinstance(answer, str) or not 0 < len(answer) <= MAX_ANSWER):
        raise ClassError(f"answer: text of 1 to {MAX_ANSWER} characters")


def state_changes(changes: dict) -> dict[str, str]:
    """The teacher's changes to a class state, each value as JSON text; ClassError for a field the store keeps
    itself or for changes over MAX_STATE_BYTES."""
    kept = [name for name in STORE_FIELDS if name in changes]
    if kept:
        raise ClassError(f"state: {', '.join(kept)} is kept by the store: leave it out (a poll round closes with "
                         "close_round)")
    to_json(changes, "state", MAX_STATE_BYTES)
    return {name: to_json(value, f"state {name}", MAX_STATE_BYTES) for name, value in changes.items()}


def board_row(name: str, joined_at: float, published: dict | None, updated_at: float | None) -> dict:
    """A student's row as the board shows it: what they published, with their name and times, never their id."""
    row = dict(published or {})
    row.pop("student", None)
    row.update(name=name, joined_at=joined_at, updated_at=updated_at)
    return row


def with_closed(state: dict, closed: list[tuple[str, int]]) -> dict:
    """The class state with its closed poll rounds under "closed" (poll -> sorted rounds), when there are any."""
    if closed:
        rounds: dict[str, list[int]] = {}
        for poll, round in closed:
            rounds.setdefault(poll, []).append(int(round))
        state["closed"] = {poll: sorted(numbers) for poll, numbers in rounds.items()}
    return state


def labelled(rows: list[dict]) -> list[dict]:
    """The board's rows (in join order), each with the "label" its answers are listed under in `votes`."""
    for row, label in zip(rows, display_names([row["name"] for row in rows])):
        row["label"] = label
    return rows


def display_names(names: list[str]) -> list[str]:
    """The names in join order, a repeated one marked ' (2)', ' (3)'... so that each labels one student."""
    taken: set[str] = set()
    shown = []
    for name in names:
        label, n = name, 1
        while label in taken:
            n += 1
            label = f"{name} ({n})"
        taken.add(label)
        shown.append(label)
    return shown


class Store(ABC):
    """A class store: classes by code, each with its students' rows, a shared state and poll votes.

    Teacher methods take the class's key; a class past its lifetime behaves as if it never was."""

    def __init__(self, *, max_students: int = MAX_STUDENTS, max_open_classes: int = MAX_OPEN_CLASSES,
                 max_name: int = MAX_NAME) -> None:
        self.max_students = max_students
        self.max_open_classes = max_open_classes
        self.max_name = max_name

    def _wrong_key(self, code: str) -> ClassError:
        return ClassError(f"wrong teacher key for class {code}: use the teacher link printed when it was opened")

    def _no_class(self, code: str) -> ClassError:
        return ClassError(f"no class {code}: check the code (a class ends when its teacher closes it or after "
                          "its hours run out)")

    def _unknown_student(self, code: str) -> ClassError:
        return ClassError(f"you are not in class {code} (any more): join it again")

    def _full(self, code: str) -> ClassError:
        return ClassError(f"class {code} is full ({self.max_students} students): ask the teacher to open another")

    def _too_many_classes(self) -> ClassError:
        return ClassError(f"{self.max_open_classes} classes are open, the most this server keeps: close one "
                          "(`symbreak class close`) or wait for one to end")

    def _round_closed(self, poll: str, round: int) -> ClassError:
        return ClassError(f"round {round} of poll {_shown(poll)} is closed: answers can no longer change")

    @abstractmethod
    def new_class(self, ttl: float = DEFAULT_TTL_SECONDS) -> NewClass:
        """Open a class for `ttl` seconds; ClassError when max_open_classes are open."""

    @abstractmethod
    def exists(self, code: str) -> bool:
        """Whether a class with this code is open."""

    @abstractmethod
    def close(self, code: str, key: str) -> None:
        """Teacher: end the class now, deleting its names, rows and votes."""

    @abstractmethod
    def check_key(self, code: str, key: str) -> bool:
        """Whether `key` is the teacher key of an open class `code`."""

    @abstractmethod
    def join(self, code: str, name: str) -> str:
        """A new student in the class, by name; returns the student's id (a secret, kept by their session)."""

    @abstractmethod
    def publish(self, code: str, student: str, row: dict) -> None:
        """Replace the student's own row with `row` (a JSON-able dict)."""

    @abstractmethod
    def own_row(self, code: str, student: str) -> dict | None:
        """The student's own row with their name and times (for a reconnect), or None if they are not in it."""

    @abstractmethod
    def rows(self, code: str, key: str) -> list[dict]:
        """Teacher: every student's row in join order, each with "name", "joined_at" and "updated_at"."""

    @abstractmethod
    def set_state(self, code: str, key: str, **changes: object) -> dict:
        """Teacher: merge `changes` into the class state and bump its "version"; returns the new state."""

    @abstractmethod
    def state(self, code: str) -> dict:
        """The class state anyone in it may read: "version", the closed poll rounds, and what the teacher set."""

    @abstractmethod
    def close_round(self, code: str, key: str, poll: str, round: int) -> dict:
        """Teacher: close a round of a poll, freezing its answers; returns the new state (it lists the round)."""

    @abstractmethod
    def vote(self, code: str, student: str, poll: str, round: int, answer: str) -> None:
        """The student's answer to a poll round, replacing their earlier one; ClassError once it is closed."""

    @abstractmethod
    def votes(self, code: str, key: str, poll: str) -> dict[int, dict[str, str]]:
        """Teacher: each round of a poll -> {student's display name: answer}."""

    @abstractmethod
    def polls(self, code: str, key: str) -> list[str]:
        """Teacher: the ids of the polls that have an answer or a closed round, in the order first seen."""

    @abstractmethod
    def describe_poll(self, code: str, student: str, poll: str, about: dict) -> None:
        """A student's page says what a poll asks (question, choices, the measured answer): the first one stays."""

    @abstractmethod
    def poll_about(self, code: str, key: str, poll: str) -> dict:
        """Teacher: the poll's description, {} while no student has reached it."""

    @abstractmethod
    def own_vote(self, code: str, student: str, poll: str, round: int) -> str | None:
        """The student's current answer to a poll round, or None."""

    @abstractmethod
    def close_store(self) -> None:
        """Let go of the store's connections."""
