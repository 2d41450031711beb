"""Streamlit helpers shared by every page: runs in session state, config ↔ URL, sidebar controls, banners.

A page keeps its configuration and trainer in a `RunSlot` (one per page and
session, in `st.session_state`; never `st.cache_resource`, which every student
would share). Datasets, which never change, are shared by every session in a
cache bounded in bytes (`DATASETS`), by the config's data fields, seed and a
hash of the uploaded CSV; what a closed session held is freed (`JANITOR`).
Everything that can go wrong with user input becomes a message
shown with `st.error`; a bad change keeps the old run going. A value from outside
(a link, an upload, a file name) is data: any failure to read it becomes a
message naming the field, and every message is escaped before it is shown, so
it can never draw a link, an image or formatting of its own.

Import from a page as `from pages import common` (the app's folder is on the
path when Streamlit runs `app.py`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import hashlib
import logging
import random
import re
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import astuple, replace
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from pages import charts
from symbreak import model, settings
from symbreak.builtin_data import BUILTINS
from symbreak.config import (
    FLAT_FIELDS, MAX_EXPLICIT_CHARS, MAX_SEED, MAX_VALUE_CHARS, SCHEMES_WITH_PARAM, Config, parse_hide,
)
from symbreak.data import DataError, Dataset
from symbreak.explicit import explicit_json
from symbreak.export import csv_text
from symbreak.presets import PRESETS, preset
from symbreak.settings import HIDE_KEY, MAX_UPLOAD_MB, SETTINGS
from symbreak.trainer import Trainer, load_dataset
from symbreak.values import QUOTE_CHARS, ConfigError, parse_scheme, quote
from streamlit import config as st_config
from streamlit.runtime import Runtime
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

# Datasets are shared by every session (they are never changed), up to this many bytes in all.
MAX_DATASET_CACHE_BYTES = 256 * 2**20
# How often closed sessions are looked for, to free what they held.
JANITOR_SECONDS = 10.0
# A chart in one of two or more columns is drawn at least this wide, scaled down in a narrower column (a
# 1024-pixel projector with the sidebar open), so its title and ticks shrink instead of being cut off.
COLUMN_MIN_WIDTH = 400
MAX_TABLE_NEURONS = 16
MAX_TABLE_INPUTS = 16
PRESENT_KEY = "present"
PRESET_KEY = "preset"
CUSTOM = "custom"
TRUE_WORDS = ("1", "true", "yes", "on")
# A link's values are refused unread over config's MAX_VALUE_CHARS (MAX_EXPLICIT_CHARS for init_weights); its
# whole query over this, what the server accepts in a request line, so the page never parses or echoes megabytes.
MAX_LINK_CHARS = 131_072
MAX_MESSAGE_CHARS = 400  # a whole message, with the user's value quoted in it
FRESH_LABEL = "Start fresh"
# Every ASCII punctuation character: CommonMark lets a backslash make any of them a plain character.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
# What Markdown turns into a link even when escaped (GFM's autolinks: a scheme's '://', 'www.', an e-mail's
# '@'), kept from doing so by an invisible word joiner.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=@)|(?<=www)(?=\.)", re.IGNORECASE)
WORD_JOINER = "\u2060"
_LOG = logging.getLogger(__name__)
PLOTLY_CONFIG = {"displayModeBar": False, "scrollZoom": False}
DEFAULT_FLAT = Config().to_flat()


def _route_through_app() -> None:
    """Run every page through app.py's navigation, even from a deep link on a fresh server.

    Streamlit starts in its old mode for a folder named pages/ and, until
    app.py has run once, runs a deep-linked page file alone (no navigation,
    no page config). Leaving that mode and rerunning hands the same URL to
    app.py's st.navigation.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_route_through_app()

# Friendly names of the flat config fields, for "New run: …" messages.
FIELD_LABELS = {entry.key: entry.name for entry in settings.fields()}


# ------------------------------------------------------------------ page set-up
def present_mode() -> bool:
    """Whether the URL asks for projector mode (`?present=1`): views and Play/Step only."""
    return str(st.query_params.get(PRESENT_KEY, "")).strip().lower() in TRUE_WORDS


def hide_sidebar() -> None:
    """Projector mode: hide the sidebar, its open/close arrow and the top bar, and use the room for the views."""
    st.html("<style>[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'],"
            " [data-testid='stExpandSidebarButton'], [data-testid='stHeader'] {display: none !important;}"
            " [data-testid='stMainBlockContainer'] {padding-top: 1rem !important;}</style>")


def show_figure(fig: go.Figure | Sequence[go.Figure | str], key: str, batch: int | None = None,
                on_drawn: Callable[[], None] | None = None, min_width: int = 0) -> None:
    """Draw a plotly figure full width with the app's plotly settings; the same key updates the chart in place.

    A list of figures with `batch` and `on_drawn` is a batch of animation frames; a column narrower than
    `min_width` pixels shows the figure scaled down (see `charts.show`).
    """
    JANITOR.watch()  # every page draws its charts here on every run: the session is known to the janitor
    charts.show(fig, key=key, config=PLOTLY_CONFIG, batch=batch, on_drawn=on_drawn, min_width=min_width)


def new_seed() -> int:
    """A fresh random seed for 'New random seed'."""
    return random.randrange(1, MAX_SEED)


# ------------------------------------------------------------------ messages: a user's value is data
def plain(text: str) -> str:
    """Text that Markdown shows as written: one line, at most MAX_MESSAGE_CHARS, every punctuation escaped.

    What a Markdown element (st.error, st.markdown, a badge) draws from it is
    the characters themselves: never a link, an image, an icon, a colour or
    emphasis. (A word joiner, which shows as nothing, breaks what would be an autolink.)
    """
    text = _CONTROL.sub(" ", text)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS - 1] + "…"
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", _AUTOLINK.sub(WORD_JOINER, text))


def failure(field: str, value: str, exc: BaseException) -> str:
    """The one-line message for a value that could not be used: the field, the value quoted short, why."""
    if isinstance(exc, (ConfigError, DataError)):
        reason = str(exc).replace(value, quote(value)[1:-1]) if value else str(exc)
    elif isinstance(exc, RecursionError):
        reason = f"{field}: nested too deeply to read"
    elif isinstance(exc, (OverflowError, MemoryError)):
        reason = f"{field}: holds a number or a size too large to use"
    else:
        _LOG.warning("unexpected failure reading %s", field, exc_info=exc)
        reason = f"{field}: cannot be read ({type(exc).__name__})"
    return reason if len(reason) <= MAX_MESSAGE_CHARS else reason[:MAX_MESSAGE_CHARS - 1] + "…"


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
        else:
            parts.append(f"{FIELD_LABELS.get(key, key)} {_short(a[key]) or '–'} → {_short(b[key]) or '–'}")
    text = ", ".join(parts) if parts else "same settings"
    return plain("New run: " + (text if len(text) <= 160 else text[:157] + "…"))


def _short(text: str) -> str:
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS - 1] + "…"


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


# ------------------------------------------------------------------ URL
def query_for_config(config: Config) -> dict[str, str]:
    """The config's non-default fields as flat strings: what a link needs to reproduce the run."""
    return {k: v for k, v in config.to_flat().items() if v != DEFAULT_FLAT[k]}


def _link_limit(key: str) -> int:
    return MAX_EXPLICIT_CHARS if key == "init_weights" else MAX_VALUE_CHARS


def config_from_query(params: Mapping[str, str]) -> tuple[Config | None, list[str]]:
    """A config from URL parameters (over `?preset=NAME` if given); every bad parameter is skipped and reported.

    Nothing a link holds can raise: a value over its length limit is refused
    unread, and any failure to parse or validate one becomes a message naming
    it. The config is None when no parameter could be used.
    """
    size = sum(len(str(k)) + len(str(v)) for k, v in params.items())
    if size > MAX_LINK_CHARS:
        return None, [f"Link ignored: its settings hold {size:,} characters, more than the {MAX_LINK_CHARS:,} "
                          "a link can carry. Use the controls, or start fresh"]
    errors: list[str] = []
    config, used = Config(), False
    for key in [k for k in (PRESET_KEY, *FLAT_FIELDS) if k in params]:
        value = str(params[key])
        if key == PRESET_KEY and not value:
            continue
        if len(value) > _link_limit(key):
            errors.append(f"Link setting {key} ignored: {len(value):,} characters, more than the "
                          f"{_link_limit(key):,} it may have")
            continue
        try:
            config = preset(value) if key == PRESET_KEY else Config.from_flat({key: value}, base=config, strict=False)
            used = True
        except Exception as exc:  # a link is data: whatever it makes fail is a message, never a traceback
            errors.append(f"Link setting {key}={quote(value)} ignored: {failure(key, value, exc)}")
    return (config if used else None), errors


def _config_params() -> dict[str, str]:
    """The URL's config parameters; one dict of every key when the query is over MAX_LINK_CHARS (then refused)."""
    every = {k: st.query_params[k] for k in st.query_params}
    if sum(len(k) + len(v) for k, v in every.items()) > MAX_LINK_CHARS:
        return every
    return {k: v for k, v in every.items() if k in FLAT_FIELDS or k == PRESET_KEY}


def adopt_query(slot: RunSlot) -> None:
    """Start the run the URL describes: on the first visit, or when the URL was changed from outside.

    The URL the app last wrote is remembered, so only a link or an edited
    address starts a run; an empty URL keeps the session's run (coming back
    from another page), and so does a link of which nothing can be used. Bad
    parameters are skipped with a message; if the config cannot start at all,
    the session's run (or, on a first visit, the defaults) goes on and the message stays.
    """
    params = _config_params()
    current = slot.config
    if current is not None and (not params or params == st.session_state.get(slot.key("url"))):
        return
    config, errors = config_from_query(params)
    if config is None:  # nothing in the link could be used
        if current is None:
            slot.start(slot.default, announce=False)
    elif current is None or config != current:
        message = slot.start(config, announce=current is not None)
        if message:
            errors.append(f"Link settings could not start: {message}")
            if current is None:
                slot.start(slot.default, announce=False)
    slot.set_errors(errors)


def carried_params() -> dict[str, str]:
    """The URL's page-wide keys that every link and rewrite of the URL keeps: projector mode and the hide list."""
    return {key: st.query_params[key] for key in (PRESENT_KEY, HIDE_KEY) if key in st.query_params}


def sync_query(slot: RunSlot) -> None:
    """Make the URL hold exactly the run's non-default fields (keeping `present` and `hide`), and remember it."""
    desired = query_for_config(slot.config)
    st.session_state[slot.key("url")] = dict(desired)
    desired.update(carried_params())
    current = {k: st.query_params[k] for k in st.query_params}
    if current != desired:
        st.query_params.from_dict(desired)


# ------------------------------------------------------------------ banners and downloads
def _start_fresh(slot_name: str, default: Config) -> None:
    """Leave a bad link or upload: no settings in the URL (a teacher's projector mode and a usable hide list stay),
    no uploaded file, the page's default run."""
    kept = carried_params()
    if HIDE_KEY in kept and parse_hide(kept[HIDE_KEY])[1]:
        del kept[HIDE_KEY]
    st.query_params.from_dict(kept)
    slot = RunSlot(slot_name, default)
    st.session_state.pop(slot.key("upload"), None)
    st.session_state.pop(slot.key("url"), None)
    slot.start(default)


def show_errors(slot: RunSlot) -> None:
    """The slot's pending error messages, each in a red box (escaped: a user's value shows as typed), and a
    'Start fresh' button that leaves a bad link in one click."""
    if not slot.errors:
        return
    for message in slot.errors:
        st.error(plain(message), icon=":material/error:")
    st.button(FRESH_LABEL, key=slot.key("fresh"), on_click=_start_fresh, args=(slot.name, slot.default),
              icon=":material/restart_alt:", help="Clear the settings in the address and start the default run.")


def divergence_banner(trainer: Trainer, run: int = 0) -> bool:
    """Show the trainer's divergence message, or its warning that the loss blew up while staying finite;
    True when the run has diverged."""
    message = trainer.divergence_message(run)
    if message:
        st.error(plain(_sentence(message)), icon=":material/warning:")
        return True
    warning = trainer.overshoot_message(run)
    if warning:
        st.warning(plain(_sentence(warning)), icon=":material/trending_up:")
    return False


def _sentence(text: str) -> str:
    """The trainer's lower-case message as a sentence on its own."""
    return text[0].upper() + text[1:]


def download_buttons(trainer: Trainer, run: int = 0, prefix: str = "symbreak") -> None:
    """History CSV, config JSON and final weights JSON, in the CLI's formats (built only when clicked)."""
    names = list(trainer.dataset.feature_names)

    def history_csv() -> str:
        return csv_text(trainer.history.to_frame(run, input_names=names))

    st.download_button("History (CSV)", history_csv, file_name=f"{prefix}-history.csv", mime="text/csv",
                       on_click="ignore", help="Every recorded step: each weight, bias and gradient, one per row "
                       "(the format of `symbreak run --out-history`).", key=f"{prefix}.dl_history")
    st.download_button("Config (JSON)", lambda: trainer.configs[run].to_json(), file_name=f"{prefix}-config.json",
                       mime="application/json", on_click="ignore", key=f"{prefix}.dl_config",
                       help="All settings of this run: `symbreak run --config` trains it again.")
    st.download_button("Weights now (JSON)", lambda: trainer.weights_json(run), file_name=f"{prefix}-weights.json",
                       mime="application/json", on_click="ignore", key=f"{prefix}.dl_weights",
                       help="The current weights, in the `--init-weights` format: load them as a starting point.")


# ------------------------------------------------------------------ sidebar controls
_HELP = {**{key: entry.help for key, entry in SETTINGS.items()},
         "table": "Rows are the neurons of a layer, columns the weights coming into them. Give two rows the same "
                  "numbers (and the same outgoing weights) to keep two neurons tied; change one cell to untie them."}
# The sidebar's sections by the controls they hold: one whose controls are all hidden is left out.
_SECTIONS = {
    "data": ("path", "target", "task", "standardize", "n_samples", "noise", "test_fraction"),
    "network": ("layers", "width", "activation"),
    "start": ("init_scheme", "init_param", "bias_scheme", "bias_param", "perturb", "init_weights"),
    "training": ("dropout", "optimizer", "lr", "batch_size", "weight_decay", "seed"),
    "arithmetic": ("dtype", "arithmetic", "tol"),
}
WIDTH_WITHOUT_LAYERS = 8  # the width control's value while there is no hidden layer


def _preset_of(config: Config) -> str:
    for name in PRESETS:
        if preset(name) == config:
            return name
    return CUSTOM


def _scheme_values(text: str) -> tuple[str, float]:
    name, param = parse_scheme(text)
    return name, float(param if param is not None else SCHEMES_WITH_PARAM.get(name, 0.5))


def _scheme_text(name: str, param: float) -> str:
    return f"{name}:{float(param)!r}" if name in SCHEMES_WITH_PARAM else name


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _field_value(config: Config, key: str) -> Any:
    section, attr = FLAT_FIELDS[key]
    return getattr(getattr(config, section) if section else config, attr)


def widget_values(config: Config) -> dict[str, Any]:
    """The value of every sidebar control for a config (numbers clamped into the controls' ranges)."""
    init_name, init_param = _scheme_values(config.init.weight)
    bias_name, bias_param = _scheme_values(config.init.bias)
    hidden = config.model.hidden
    width = hidden[0] if hidden else WIDTH_WITHOUT_LAYERS
    parts = {"preset": _preset_of(config), "layers": len(hidden), "width": width, "init_scheme": init_name,
             "init_param": init_param, "bias_scheme": bias_name, "bias_param": bias_param}
    values: dict[str, Any] = {}
    for entry in settings.controls():
        if entry.widget in (settings.UPLOAD, settings.TABLE):
            continue
        value = parts[entry.key] if entry.key in parts else _field_value(config, entry.key)
        if entry.kind in (settings.NUMBER, settings.INT):
            value = (int if entry.kind == settings.INT else float)(_clamp(value, entry.low, entry.high))
        values[entry.key] = value
    return values


def _changes(control: str, values: Mapping[str, Any], config: Config,
             upload_name: str | None = None) -> tuple[dict[str, Any] | Config, str]:
    """The config change one control asks for, and a note for the 'New run' message."""
    if control == "preset":
        return (preset(values["preset"]) if values["preset"] != CUSTOM else config), ""
    note = ""
    clear_explicit = {}
    if config.init.explicit and control in ("dataset", "layers", "width", "init_scheme", "init_param",
                                            "bias_scheme", "bias_param"):
        clear_explicit = {"init_weights": ""}
        note = "typed-in initial weights replaced"
    if control == "dataset" and values["dataset"] == "csv" and config.data.dataset != "csv":
        if upload_name is None:
            raise ConfigError("dataset: upload a CSV file first (under Data details); it then becomes the dataset")
        return {"dataset": "csv", "path": upload_name, **clear_explicit}, note
    if control in ("layers", "width"):
        return {"hidden": ",".join([str(values["width"])] * values["layers"]) or "0", **clear_explicit}, note
    if control == "dataset" and values["dataset"] != "csv":
        return {"dataset": values["dataset"], "path": "", "target": "", **clear_explicit}, note
    for field, prefix in (("init", "init"), ("bias_init", "bias")):
        if control == f"{prefix}_scheme":  # a new scheme starts from its own default value
            scheme = values[control]
            return {field: _scheme_text(scheme, SCHEMES_WITH_PARAM.get(scheme, 0.0)), **clear_explicit}, note
        if control == f"{prefix}_param":
            return {field: _scheme_text(values[f"{prefix}_scheme"], values[control]), **clear_explicit}, note
    return {control: values[control], **clear_explicit}, note


def _on_control(slot_name: str, control: str) -> None:
    slot = RunSlot(slot_name)
    values = {name: st.session_state.get(slot.key(f"w.{name}")) for name in widget_values(slot.config)}
    try:
        changes, note = _changes(control, values, slot.config, slot.upload[0] if slot.upload else None)
    except Exception as exc:  # a control's value is data too
        slot.set_errors([failure(control, "", exc)])
        return
    slot.propose(changes, note)


def _seed_widgets(slot: RunSlot) -> None:
    """Write the config's values into the controls when the run changed (or a control was not drawn last time)."""
    fresh = st.session_state.get(slot.key("seeded")) != slot.version
    for name, value in widget_values(slot.config).items():
        key = slot.key(f"w.{name}")
        # Writing a control's own value back would reset it in the browser mid-gesture (a key held on a slider).
        if key not in st.session_state or (fresh and st.session_state[key] != value):
            st.session_state[key] = value
    st.session_state[slot.key("seeded")] = slot.version


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
        config = slot.config.with_flat(dataset="csv", path=name, target="", task="auto", init_weights="")
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


def _table_base(slot: RunSlot) -> list[tuple[np.ndarray, np.ndarray]]:
    """The run's starting weights before the perturbation ε: what the weight table shows and edits."""
    config = slot.config
    unperturbed = replace(config, init=replace(config.init, perturb=0.0))
    flat = model.init_params(unperturbed, slot.trainer.layout, torch.Generator().manual_seed(config.seed))
    return [(w.numpy().copy(), b.numpy().copy()) for w, b in slot.trainer.layout.views(flat)]


def _table_labels(trainer: Trainer, layer: int) -> tuple[list[str], list[str]]:
    sizes = trainer.layout.sizes
    if layer == 0:
        columns = list(trainer.dataset.feature_names)
    else:
        columns = [f"from n{i + 1}" if len(sizes) == 3 else f"from h{layer}.{i + 1}" for i in range(sizes[layer])]
    if layer == trainer.layout.n_layers - 1:
        outs = trainer.dataset.classes if trainer.task == "multiclass" else ("output",)
        rows = [str(c) for c in outs]
    else:
        rows = [f"n{i + 1}" if len(sizes) == 3 else f"h{layer + 1}.{i + 1}" for i in range(sizes[layer + 1])]
    return rows, columns + ["bias"]


def weight_tables(slot: RunSlot) -> None:
    """Editable tables of the starting weights (≤ 16 hidden neurons): edits become the explicit init.

    The edits are read from the tables' return values (not a callback), so a
    test can set a table's edit state in `st.session_state` and run.
    """
    trainer = slot.trainer
    sizes = trainer.layout.sizes
    if sum(sizes[1:-1]) > MAX_TABLE_NEURONS or sizes[0] > MAX_TABLE_INPUTS:
        st.caption(f"Typing in starting weights works for networks of at most {MAX_TABLE_NEURONS} hidden neurons "
                   f"and {MAX_TABLE_INPUTS} inputs.")
        return
    caption = _HELP["table"]
    if sizes == (2, 2, 1):
        caption += " In the 2-2-1 net, w1, w2 are row n1, w3, w4 row n2 and w5, w6 the output row."
    if slot.config.init.perturb:
        caption += " The perturbation ε is added on top."
    st.caption(caption)
    base = _table_base(slot)
    edited = []
    for layer, (weight, bias) in enumerate(base):
        rows, columns = _table_labels(trainer, layer)
        frame = pd.DataFrame(np.column_stack([weight, bias]), index=rows, columns=columns)
        into = "the outputs" if layer == trainer.layout.n_layers - 1 else f"hidden layer {layer + 1}"
        st.markdown(f"**Into {into}**")
        edited.append(st.data_editor(
            frame, key=slot.key(f"w.table.{slot.version}.{layer}"),
            column_config={c: st.column_config.NumberColumn(c, format="%.4g", required=True) for c in columns}))
    values = [frame.to_numpy(dtype=float) for frame in edited]
    if all(np.array_equal(v, np.column_stack(b)) for v, b in zip(values, base)):
        return
    if any(np.isnan(v).any() for v in values):
        slot.set_errors(["Starting weights: every cell needs a number (one was left empty)"])
        return
    text = explicit_json([(v[:, :-1].tolist(), v[:, -1].tolist()) for v in values])
    if slot.propose({"init_weights": text}):
        st.rerun()


def _control(slot: RunSlot, name: str) -> dict[str, Any]:
    """Common keyword arguments of a sidebar control: key, callback, help."""
    return dict(key=slot.key(f"w.{name}"), on_change=_on_control, args=(slot.name, name), help=_HELP[name])


def hidden_controls() -> frozenset[str]:
    """The controls a teacher's `?hide=` list removes from the sidebar."""
    return parse_hide(str(st.query_params.get(HIDE_KEY, "")))[0]


def _widget(where: Any, slot: RunSlot, key: str, **options: Any) -> None:
    """One sidebar control as its registry entry describes it (label, help, bounds, step, format, choices), unless
    the hide list removes it; `options` override the entry's (the choices a page offers now, how it shows them)."""
    entry = SETTINGS[key]
    if key in hidden_controls():
        return
    args = {**_control(slot, key), **options}
    if entry.widget in (settings.SELECT, settings.RADIO):
        choices = list(args.pop("choices", entry.choices))
        args.setdefault("format_func", entry.show)
        if entry.widget == settings.SELECT:
            where.selectbox(entry.label, choices, **args)
        else:
            where.radio(entry.label, choices, horizontal=True, **args)
    elif entry.widget == settings.SLIDER:
        where.slider(entry.label, entry.low, entry.high, step=entry.step, **args)
    elif entry.widget == settings.NUMBER_INPUT:
        where.number_input(entry.label, min_value=entry.low, max_value=entry.high, step=entry.step,
                           format=entry.format, **args)
    elif entry.widget == settings.CHECKBOX:
        where.checkbox(entry.label, **args)
    else:
        where.text_input(entry.label, max_chars=entry.max_chars, **args)


def section_args(key: str) -> dict[str, Any]:
    """Keyword arguments of an expander or popover whose content is drawn only while it is open (`.open`).

    The browser re-renders every element of the page many times per rerun
    (about 15 times for a Step click), so controls nobody is looking at cost
    time on every click; opening the section reruns the script to draw them.
    """
    return {"key": key, "on_change": "rerun"}


def _data_controls(slot: RunSlot) -> None:
    """Upload, CSV settings or the built-in data's size and noise, and the test share."""
    config = slot.config
    if "path" not in hidden_controls():
        entry = SETTINGS["path"]
        st.file_uploader(entry.label, type=["csv", "txt", "tsv"], key=slot.key("w.upload_file"),
                         on_change=_on_upload, args=(slot.name,), help=entry.help, max_upload_size=MAX_UPLOAD_MB)
    csv = config.data.dataset == settings.CSV_DATASET
    for key in ("target", "task", "standardize") if csv else ("n_samples", "noise"):
        _widget(st, slot, key)
    _widget(st, slot, "test_fraction")


def _arithmetic_controls(slot: RunSlot) -> None:
    """Number type, exact or BLAS arithmetic, and the tolerance that counts neurons as equal."""
    for key in _SECTIONS["arithmetic"]:
        _widget(st, slot, key)


def config_sidebar(slot: RunSlot) -> None:
    """Every configuration control, in the sidebar; each change starts a new run (or shows why it cannot).

    The sections that start closed draw their controls only when opened (see `section_args`). A teacher's
    `?hide=` list leaves controls out (a section with none left is left out too); a name it cannot use is
    reported at the top of the sidebar.
    """
    _seed_widgets(slot)
    config = slot.config
    sb = st.sidebar
    hidden, message = parse_hide(str(st.query_params.get(HIDE_KEY, "")))
    if message:
        sb.warning(plain(message), icon=":material/visibility_off:")
    shown = {name: not set(keys) <= hidden for name, keys in _SECTIONS.items()}
    if "preset" not in hidden:
        options = list(PRESETS) + ([CUSTOM] if _preset_of(config) == CUSTOM else [])
        _widget(sb, slot, "preset", choices=options)
        if _preset_of(config) != CUSTOM:
            sb.caption(PRESETS[_preset_of(config)][0])
        else:
            sb.caption("Your own settings (changed from a preset).")
    datasets = list(BUILTINS) + ([settings.CSV_DATASET] if config.data.dataset == settings.CSV_DATASET or slot.upload
                                 else [])
    upload_name = slot.upload[0] if slot.upload else ""
    csv_name = config.data.path if config.data.dataset == settings.CSV_DATASET else upload_name
    _widget(sb, slot, "dataset", choices=datasets,
            format_func=lambda d: f"csv: {_short(csv_name)}" if d == settings.CSV_DATASET else d)
    if shown["data"]:
        with sb.expander("Data details", **section_args(slot.key("x.data"))) as section:
            if section.open:
                _data_controls(slot)
    if shown["network"]:
        with sb.expander("Network", expanded=True):
            left, right = st.columns(2)
            _widget(left, slot, "layers")
            _widget(right, slot, "width")
            _widget(st, slot, "activation")
    if shown["start"]:
        with sb.expander("Starting weights", expanded=True):
            for scheme, param in (("init_scheme", "init_param"), ("bias_scheme", "bias_param")):
                left, right = st.columns([3, 2])
                _widget(left, slot, scheme)
                if st.session_state[slot.key(f"w.{scheme}")] in SCHEMES_WITH_PARAM:
                    _widget(right, slot, param)
            _widget(st, slot, "perturb")
            if config.init.explicit:
                st.info("Starting weights typed in by hand (below) replace the weight and bias init.")
            if "init_weights" not in hidden:
                entry = SETTINGS["init_weights"]
                with st.popover(entry.label, width="stretch", **section_args(slot.key("x.tables")),
                                help=entry.help) as box:
                    if box.open:
                        weight_tables(slot)
    if shown["training"]:
        with sb.expander("Training", expanded=True):
            _widget(st, slot, "dropout")
            for pair in (("optimizer", "lr"), ("batch_size", "weight_decay")):
                for column, key in zip(st.columns(2), pair):
                    _widget(column, slot, key)
            _widget(st, slot, "seed")
    if shown["arithmetic"]:
        with sb.expander("Arithmetic", **section_args(slot.key("x.arithmetic"))) as section:
            if section.open:
                _arithmetic_controls(slot)


def config_summary(config: Config) -> str:
    """A one-line description of the run: the preset's caption, or the settings that matter most here (a CSV's
    file name escaped for Markdown)."""
    name = _preset_of(config)
    if name != CUSTOM:
        return PRESETS[name][0]
    hidden = "-".join(str(h) for h in config.model.hidden) or "no hidden layer"
    init = "typed-in weights" if config.init.explicit else f"init {config.init.weight}"
    data = config.data.dataset if config.data.dataset != "csv" else plain(_short(config.data.path))
    parts = [data, f"hidden {hidden}", config.model.activation, init]
    if config.init.perturb:
        parts.append(f"ε {config.init.perturb:g}")
    if config.train.dropout:
        parts.append(f"dropout {config.train.dropout:g}")
    parts.append(f"{config.train.optimizer} lr {config.train.lr:g}")
    return ", ".join(parts)
