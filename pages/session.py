"""A page's state in one session, and what sessions share: runs, the dataset cache, uploads, the janitor.

A page keeps its configuration and trainer in a `RunSlot` (one per page and
session, in `st.session_state`; never `st.cache_resource`, which every student
would share); a page with one object to keep (a lesson's trainer, Compare's
runs) keeps it with `kept`. Datasets, which never change, are shared by every
session in a cache bounded in bytes (`DATASETS`), by the config's data fields,
seed and a hash of the uploaded CSV; what a closed session held is freed
(`JANITOR`, to which app.py names the session on every script run). Everything that can go wrong
with user input becomes a message in the slot's `errors`; a bad change keeps
the old run going.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import hashlib
import logging
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import astuple
from typing import Any, TypeVar

import streamlit as st
from streamlit import config as st_config
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from pages.chrome import failure, plain, short
from symbreak.data.dataset import DataError, Dataset
from symbreak.engine.trainer import Trainer, load_dataset
from symbreak.settings import registry
from symbreak.settings.config import FLAT_FIELDS, Config
from symbreak.settings.registry import MAX_UPLOAD_MB
from symbreak.settings.values import ConfigError, quote

# Datasets are shared by every session (they are never changed), up to this many bytes in all.
MAX_DATASET_CACHE_BYTES = 256 * 2**20
# How often closed sessions are looked for, to free what they held.
JANITOR_SECONDS = 10.0
_LOG = logging.getLogger(__name__)
# Friendly names of the flat config fields, for "New run: …" messages.
FIELD_LABELS = {entry.key: entry.name for entry in registry.fields()}
T = TypeVar("T")


# ------------------------------------------------------------------ data and trainers
def dataset_bytes(dataset: Dataset) -> int:
    """The memory a dataset holds: its arrays and its names."""
    arrays = (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test)
    names = (dataset.name, dataset.target_name, dataset.description, *dataset.feature_names, *dataset.classes)
    return sum(a.nbytes for a in arrays) + sum(len(n) for n in names)


class DatasetCache:
    """Datasets shared by every session, bounded in bytes: the least recently used are dropped first.

    A dataset is never changed after it is made, so sessions can share one
    object. One bigger than the whole bound is returned without being kept.
    One made for an owner (a session's upload) is kept only while an owner of
    it is alive: `release(owner)` drops the entries no other owner holds.
    Safe to use from the script threads of several sessions at once.
    """

    def __init__(self, max_bytes: int, size: Callable[[Dataset], int] = dataset_bytes) -> None:
        self.max_bytes = max_bytes
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[Dataset, int]] = OrderedDict()
        self._owners: dict[Hashable, set[str]] = {}
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, make: Callable[[], Dataset], owner: str | None = None) -> Dataset:
        """The dataset cached under key, or `make()`'s (kept if it fits, for owner if given, else until it is
        the least recently used); make's errors reach the caller."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self._own(key, owner)
                return self._entries[key][0]
        dataset = make()  # outside the lock: a slow CSV must not hold up the other sessions
        size = self._size(dataset)
        with self._lock:
            if key in self._entries:  # another session made it meanwhile
                self._own(key, owner)
                return self._entries[key][0]
            if size <= self.max_bytes:
                self._entries[key] = (dataset, size)
                self.bytes += size
                self._own(key, owner)
                while self.bytes > self.max_bytes:
                    self._drop(next(iter(self._entries)))
        return dataset

    def _own(self, key: Hashable, owner: str | None) -> None:
        if owner is not None:
            self._owners.setdefault(key, set()).add(owner)

    def _drop(self, key: Hashable) -> None:
        _, size = self._entries.pop(key)
        self._owners.pop(key, None)
        self.bytes -= size

    def release(self, owner: str) -> int:
        """Forget owner (a closed session); drop the entries it held that no other owner holds. How many went."""
        with self._lock:
            orphans = []
            for key, owners in self._owners.items():
                owners.discard(owner)
                if not owners:
                    orphans.append(key)
            for key in orphans:
                self._drop(key)
        return len(orphans)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._owners.clear()
            self.bytes = 0


DATASETS = DatasetCache(MAX_DATASET_CACHE_BYTES)


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None on a system without it (memory is then left to the allocator)."""
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), "malloc_trim", None)
    except OSError:
        return None


class SessionJanitor:
    """Frees what a closed session held, and gives the memory back to the system.

    Streamlit keeps a closed session for `server.disconnectedSessionTTL`
    seconds (it may reconnect), but drops it from its store only when another
    session disconnects later, and the objects it dropped live on in reference
    cycles until a full garbage collection; glibc then keeps the freed memory
    in its arenas (one per thread, unless the server's environment sets
    MALLOC_ARENA_MAX, as `symbreak serve` and the image do). So a server
    that teaches a class and goes quiet never shrank.
    Every JANITOR_SECONDS a thread looks at the sessions seen by `watch()`:
    one gone for longer than the TTL has its state, uploaded files and the
    datasets made from its uploads that no live session uses (`cache`) dropped,
    then cycles are collected and `malloc_trim(0)` returns the free pages.
    """

    def __init__(self, cache: DatasetCache, period: float = JANITOR_SECONDS) -> None:
        self.cache = cache
        self.period = period
        self._lock = threading.Lock()
        self._sessions: dict[str, weakref.ref] = {}
        self._gone_since: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self._trim = _malloc_trim()

    def watch(self) -> None:
        """Remember the session of the running script (a no-op outside a Streamlit server, as in AppTest)."""
        ctx = get_script_run_ctx()
        if ctx is None or not Runtime.exists():
            return
        with self._lock:
            if ctx.session_id not in self._sessions:
                session = Runtime.instance().get_app_session(ctx.session_id)
                if session is None:
                    return
                self._sessions[ctx.session_id] = weakref.ref(session)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="symbreak-janitor", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.period)
            try:
                self.sweep()
            except Exception:  # the janitor must outlive any surprise in Streamlit's internals
                _LOG.exception("freeing closed sessions failed")

    def sweep(self, now: float | None = None) -> int:
        """Free the sessions closed for longer than the TTL; how many were freed."""
        if not Runtime.exists():  # the server is stopping
            return 0
        now = time.monotonic() if now is None else now
        runtime = Runtime.instance()
        ttl = float(st_config.get_option("server.disconnectedSessionTTL"))
        freed = []
        with self._lock:
            for session_id, ref in list(self._sessions.items()):
                if ref() is not None and runtime.is_active_session(session_id):
                    self._gone_since.pop(session_id, None)
                elif ref() is None or now - self._gone_since.setdefault(session_id, now) >= ttl:
                    freed.append((session_id, self._sessions.pop(session_id)()))
                    self._gone_since.pop(session_id, None)
        for session_id, session in freed:
            if session is not None:
                session.session_state.clear()
            runtime.uploaded_file_mgr.remove_session_files(session_id)
            self.cache.release(session_id)
        count = len(freed)
        freed.clear()
        if count:
            self.release_memory()
        return count

    def release_memory(self) -> None:
        """Collect reference cycles, then ask Arrow's memory pool (pandas keeps a CSV's text columns in Arrow
        strings) and glibc to return their free pages to the system."""
        gc.collect()
        arrow = sys.modules.get("pyarrow")
        if arrow is not None:
            arrow.default_memory_pool().release_unused()
        if self._trim is not None:
            self._trim(0)


JANITOR = SessionJanitor(DATASETS)


def cached_dataset(config: Config, upload: bytes | None = None) -> Dataset:
    """The config's dataset, shared per data fields + seed (+ a hash of the CSV bytes, kept while the session
    that uploaded it lives); raises DataError or ConfigError."""
    if config.data.dataset != "csv":
        upload = None
    elif upload is None:
        raise ConfigError("dataset: the CSV file is not in this session (a link cannot carry a file): "
                          "upload it again under Data")
    digest, owner = None, None
    if upload is not None:
        digest = hashlib.sha256(upload).hexdigest()
        ctx = get_script_run_ctx()
        owner = ctx.session_id if ctx is not None else None
    return DATASETS.get((astuple(config.data), config.seed, digest), lambda: load_dataset(config, source=upload),
                        owner)


def build_trainer(config: Config, upload: bytes | None = None) -> Trainer:
    """A new trainer for config on the cached dataset; raises ConfigError or DataError with a user message."""
    return Trainer(config, dataset=cached_dataset(config, upload))


def describe_change(old: Config | None, new: Config) -> str:
    """'New run: learning rate 1.0 → 0.5, dropout 0.0 → 0.2' (the fields that changed), Markdown-escaped: a file
    or column name shows as typed."""
    if old is None:
        return "New run"
    a, b = old.to_flat(), new.to_flat()
    parts = []
    for key in FLAT_FIELDS:
        if a[key] == b[key]:
            continue
        if key == "init_weights":
            parts.append("initial weights typed in" if b[key] else "typed-in initial weights cleared")
        elif key == "mask":
            parts.append(("pruning mask changed" if a[key] else "pruning mask set") if b[key] else "pruning mask cleared")
        else:
            parts.append(f"{FIELD_LABELS.get(key, key)} {short(a[key]) or '–'} → {short(b[key]) or '–'}")
    text = ", ".join(parts) if parts else "same settings"
    return plain("New run: " + (text if len(text) <= 160 else text[:157] + "…"))


class RunSlot:
    """One page's configuration and trainer in `st.session_state`, under a name.

    `start(config)` builds a trainer; if that fails (bad CSV, initial weights of
    the wrong shape) the previous run stays and the message is kept in
    `errors` for the page to show. Each successful start bumps `version`.
    """

    def __init__(self, name: str, default: Config | None = None) -> None:
        self.name = name
        self.default = default or Config()

    def key(self, part: str) -> str:
        """The session-state key of one part of this slot, e.g. 'playground.trainer'."""
        return f"{self.name}.{part}"

    @property
    def config(self) -> Config | None:
        return st.session_state.get(self.key("config"))

    @property
    def trainer(self) -> Trainer | None:
        return st.session_state.get(self.key("trainer"))

    @property
    def version(self) -> int:
        return st.session_state.get(self.key("version"), 0)

    @property
    def upload(self) -> tuple[str, bytes] | None:
        """(file name, bytes) of the CSV this session uploaded, if any."""
        return st.session_state.get(self.key("upload"))

    @property
    def errors(self) -> list[str]:
        return st.session_state.setdefault(self.key("errors"), [])

    def set_errors(self, messages: Sequence[str]) -> None:
        st.session_state[self.key("errors")] = list(messages)

    def flash(self, message: str) -> None:
        """A message for the next page draw (the Playground shows it next to its headline)."""
        st.session_state[self.key("flash")] = message

    def pop_flash(self) -> str:
        return st.session_state.pop(self.key("flash"), "")

    def start(self, config: Config, upload: tuple[str, bytes] | None = None, announce: bool = True) -> str | None:
        """Start a new run for config (with a new CSV upload if given); None on success, else the message."""
        upload = upload if upload is not None else self.upload
        try:
            trainer = build_trainer(config, upload[1] if upload else None)
        except Exception as exc:  # anything the data or the weights make fail is a message; the run stays
            return failure("settings", upload[0] if upload else "", exc)
        old = self.config
        st.session_state[self.key("config")] = config
        st.session_state[self.key("trainer")] = trainer
        st.session_state[self.key("upload")] = upload
        st.session_state[self.key("version")] = self.version + 1
        self.set_errors([])
        if announce:
            self.flash(describe_change(old, config))
        return None

    def ensure(self) -> Trainer:
        """The slot's trainer, starting the default config on first use (which cannot fail)."""
        if self.trainer is None:
            message = self.start(self.default, announce=False)
            if message:
                self.set_errors([message])
                self.start(Config(), announce=False)
        return self.trainer

    def propose(self, changes: Mapping[str, Any] | Config, note: str = "") -> bool:
        """Start a new run with flat-named changes over the current config; on error record it and keep the run."""
        try:
            config = changes if isinstance(changes, Config) else self.config.with_flat(**changes)
        except Exception as exc:  # a value typed or pasted in is data: its failure is a message
            field = ", ".join(changes) if isinstance(changes, Mapping) else "settings"
            self.set_errors([failure(field, "", exc)])
            return False
        if config == self.config:
            self.set_errors([])
            return False
        message = self.start(config)
        if message:
            self.set_errors([message])
            return False
        if note:
            self.flash(self.pop_flash() + f" ({note})")
        return True


def kept(key: str, wanted: Hashable, make: Callable[[], T]) -> T:
    """This session's object under `st.session_state[key]`, made again by `make()` whenever `wanted` (what it is
    made from) differs from last time's; make's errors reach the caller and keep the old object."""
    if key not in st.session_state or st.session_state.get(f"{key}.wanted") != wanted:
        st.session_state[key] = make()
        st.session_state[f"{key}.wanted"] = wanted
    return st.session_state[key]


# ------------------------------------------------------------------ uploads: a CSV belongs to the session that sent it
def read_upload(name: str, data: bytes) -> tuple[str, bytes]:
    """Check an uploaded CSV's size; returns (name, bytes) or raises DataError."""
    if len(data) > MAX_UPLOAD_MB * 2**20:
        raise DataError(f"{quote(name)} is {len(data) / 2**20:.1f} MB, over the {MAX_UPLOAD_MB} MB limit: "
                        "upload a sample of the rows")
    return name, bytes(data)


def start_upload(slot: RunSlot, name: str, data: bytes) -> bool:
    """Make an uploaded CSV the dataset: a new run on it, or an error message and the old run kept."""
    try:
        upload = read_upload(name, data)
        config = slot.config.with_flat(dataset="csv", path=name, target="", task="auto", init_weights="", mask="")
    except Exception as exc:  # an upload is data: whatever it makes fail is a message naming the file
        slot.set_errors([failure("upload", name, exc)])
        return False
    message = slot.start(config, upload=upload)
    if message:
        slot.set_errors([message])
        return False
    return True


def _on_upload(slot_name: str) -> None:
    slot = RunSlot(slot_name)
    file = st.session_state.get(slot.key("w.upload_file"))
    if file is not None:
        start_upload(slot, file.name, file.getvalue())


def process_upload_request(slot: RunSlot) -> None:
    """Handle bytes put in `st.session_state[slot.key('upload_request')]` as (name, bytes): the test seam."""
    request = st.session_state.pop(slot.key("upload_request"), None)
    if request is not None:
        start_upload(slot, request[0], request[1])
