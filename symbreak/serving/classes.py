"""A class that students join by a short code: what the pages and `symbreak class` use to reach the class store.

The store is shared by every process serving the class: SQLite on one machine, Redis across pods (SYMBREAK_STORE
says which). A name is stored as typed, once cleaned; a teacher key is kept only as a hash.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from symbreak.serving.store import (
    ALPHABET,
    CODE_LENGTH,
    DEFAULT_TTL_SECONDS,
    MAX_ANSWER,
    MAX_NAME,
    MAX_OPEN_CLASSES,
    MAX_POLL,
    MAX_ROW_BYTES,
    MAX_STATE_BYTES,
    MAX_STUDENTS,
    MAX_TTL_SECONDS,
    ClassError,
    NewClass,
    Store,
    StoreDown,
    clean_name,
    normalise_code,
)
from symbreak.serving.store_redis import RedisStore
from symbreak.serving.store_sqlite import SqliteStore

__all__ = ["ALPHABET", "CODE_LENGTH", "DEFAULT_TTL_SECONDS", "MAX_ANSWER", "MAX_NAME", "MAX_OPEN_CLASSES", "MAX_POLL",
           "MAX_ROW_BYTES", "MAX_STATE_BYTES", "MAX_STUDENTS", "MAX_TTL_SECONDS", "STORE_ENV", "ClassError",
           "NewClass", "RedisStore", "SqliteStore", "Store", "StoreDown", "clean_name", "default_store_path",
           "normalise_code", "open_store", "random_name"]

STORE_ENV = "SYMBREAK_STORE"
COLOURS = ("Amber", "Azure", "Blue", "Coral", "Crimson", "Golden", "Green", "Grey", "Indigo", "Ivory", "Jade",
           "Lilac", "Mint", "Navy", "Olive", "Orange", "Pink", "Plum", "Red", "Ruby", "Rust", "Sage", "Scarlet",
           "Silver", "Teal", "Violet", "White", "Yellow")
ANIMALS = ("Badger", "Bison", "Crane", "Falcon", "Finch", "Fox", "Gecko", "Hare", "Heron", "Ibex", "Kestrel",
           "Koala", "Lynx", "Marten", "Newt", "Otter", "Owl", "Panda", "Puffin", "Robin", "Seal", "Swift", "Tern",
           "Wren")


def random_name(rng: random.Random | None = None) -> str:
    """A name for a student who typed none, such as "Blue Heron" (a colour and an animal, at most MAX_NAME long)."""
    pick = rng or random
    return f"{pick.choice(COLOURS)} {pick.choice(ANIMALS)}"


def default_store_path() -> Path:
    """Where the store lives when nothing says otherwise: $XDG_DATA_HOME/symbreak/classes.sqlite3."""
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "symbreak" / "classes.sqlite3"


def open_store(url: str | None = None, **limits: int) -> Store:
    """The store at `url`, else at $SYMBREAK_STORE, else the SQLite file of default_store_path().

    "redis://host:port/db" (or rediss://, unix://) is Redis; "sqlite:///path" or a plain path is SQLite. Nothing is
    reached yet: a store that is down raises StoreDown on each call until it is back. `limits` (max_students,
    max_open_classes, max_name) override the defaults."""
    where = url or os.environ.get(STORE_ENV) or str(default_store_path())
    if where.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(where, **limits)
    if where.startswith("sqlite://"):
        where = where[len("sqlite://"):]
    elif "://" in where:
        raise ValueError(f"cannot open a class store at {where!r}: use redis://HOST:PORT/DB, sqlite:///PATH or "
                         "a file path")
    if not where:
        raise ValueError("sqlite:// needs a file path, like sqlite:///var/lib/symbreak/classes.sqlite3")
    return SqliteStore(Path(where).expanduser(), **limits)
