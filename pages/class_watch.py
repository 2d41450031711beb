"""What reaches a student's page from the class, and what leaves it, without the page asking.

One thread per app process does both jobs for every student this process serves:

- it reads the state of each class they are in every WATCH_SECONDS, and reruns their pages when it changed (the
  teacher sent a start, paused, opened, closed or revealed a poll, paced the lesson) or when the store stops or
  starts answering;
- it writes their runs' summaries: a page hands its latest summary over and goes on; the thread writes it at
  once, or PUBLISH_SECONDS after that student's last write, and keeps it while the store is down.

So a page asks the store nothing while nothing changes, a press never waits for the store, and sixty idle students
cost no script run at all (a `run_every` fragment on each page, which this replaces, cost one every 1.5 s each).

A rerun is asked of Streamlit's own session on its event loop, as Streamlit's run-on-save does, with the session's
last page and query; a session that is running its script is asked again on a later tick (at most RUN_GRACE s)."""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from streamlit.runtime import Runtime

from symbreak.serving import classes

WATCH_SECONDS = 0.5    # how often the thread reads each followed class's state
PUBLISH_SECONDS = 1.0  # a student's summary is written at most this often
RETRY_SECONDS = 1.0    # after the store failed, how long before the thread asks it again
RUN_GRACE = 2.0        # a page busy running its script is rerun anyway after this long
PRUNE_SECONDS = 10.0   # how often sessions Streamlit no longer holds are forgotten
_LOG = logging.getLogger(__name__)


@dataclass
class _Class:
    sessions: dict[str, Any] = field(default_factory=dict)  # session id -> the state version its page last drew
    state: dict[str, Any] | None = None  # the state last read
    owed: dict[str, float] = field(default_factory=dict)  # session id -> since when a rerun is owed


class Watch:
    """The process's watcher: `follow` from a page's run, `state` and `down` to draw, `send` to publish."""

    def __init__(self, store_url: str | None) -> None:
        self._url = store_url
        self._lock = threading.Lock()
        self._classes: dict[str, _Class] = {}
        self._outbox: dict[tuple[str, str], dict[str, Any]] = {}  # (code, student) -> summary not yet written
        self._written_at: dict[tuple[str, str], float] = {}
        self.down = False  # the store failed to answer the last time it was asked
        self._retry_at = 0.0
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="symbreak-class-watch", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ called from a page's script run
    def follow(self, code: str, session_id: str, version: Any) -> None:
        """A page of the class ran, drawn with the state of `version`: it is rerun when the class's moves on."""
        with self._lock:
            self._classes.setdefault(code, _Class()).sessions[session_id] = version

    def state(self, code: str) -> dict[str, Any] | None:
        """The class's state as last read (None before the first read: the page reads it itself)."""
        with self._lock:
            found = self._classes.get(code)
            return found.state if found else None

    def send(self, code: str, student: str, row: dict[str, Any]) -> None:
        """Hand over a summary to write (a newer one replaces one not yet written)."""
        with self._lock:
            self._outbox[(code, student)] = row
        self._wake.set()

    # ------------------------------------------------------------------ the thread
    def _store(self) -> classes.Store | None:
        if time.monotonic() < self._retry_at:
            return None
        try:
            return opened(self._url)
        except classes.StoreDown:
            self._failed()
            return None

    def _failed(self) -> None:
        self._retry_at = time.monotonic() + RETRY_SECONDS
        if not self.down:
            self.down = True
            self._owe_everyone()

    def _answered(self) -> None:
        if self.down:
            self.down = False
            self._owe_everyone()

    def _run(self) -> None:
        next_read = next_prune = 0.0
        while True:
            try:
                wait = self._flush()
                now = time.monotonic()
                if now >= next_prune:
                    next_prune = now + PRUNE_SECONDS
                    self._prune()
                if now >= next_read:
                    next_read = now + WATCH_SECONDS
                    self._read()
                self._rerun_owed()
            except Exception:  # noqa: BLE001  the watcher must outlive any one failure: pages fall back to reading
                _LOG.exception("class watcher")
                wait = WATCH_SECONDS
            self._wake.wait(max(0.01, min(wait, next_read - time.monotonic())))
            self._wake.clear()

    def _flush(self) -> float:
        """Write every summary that is due; the seconds until the next one is (at most WATCH_SECONDS)."""
        wait = WATCH_SECONDS
        now = time.monotonic()
        with self._lock:
            due = [(k, row) for k, row in self._outbox.items()
                   if now - self._written_at.get(k, -PUBLISH_SECONDS) >= PUBLISH_SECONDS]
            for k in self._outbox:
                wait = min(wait, max(0.0, self._written_at.get(k, -PUBLISH_SECONDS) + PUBLISH_SECONDS - now))
        if not due:
            return wait
        db = self._store()
        if db is None:
            return WATCH_SECONDS
        for k, row in due:
            try:
                db.publish(k[0], k[1], row)
            except classes.StoreDown:
                self._failed()
                return WATCH_SECONDS
            except classes.ClassError:  # the class closed or expired: its page leaves on the next read
                pass
            self._answered()
            with self._lock:
                self._written_at[k] = time.monotonic()
                if self._outbox.get(k) is row:
                    del self._outbox[k]
        return 0.0  # what is still waiting is timed on the next pass

    def _read(self) -> None:
        """Read each followed class's state; owe its pages a rerun when it changed."""
        now = time.monotonic()
        with self._lock:
            codes = list(self._classes)
        db = self._store() if codes else None
        if db is None:
            return
        for code in codes:
            try:
                fresh: dict[str, Any] | None = db.state(code)
            except classes.StoreDown:
                return self._failed()
            except classes.ClassError:
                fresh = {"closed_class": True}
            self._answered()
            with self._lock:
                found = self._classes.get(code)
                if found is None:
                    continue
                found.state = fresh
                version = fresh.get("version", "closed")
                for sid, drawn in list(found.sessions.items()):
                    if drawn != version:  # a page drawn with an older state (or before this read) is rerun
                        found.owed.setdefault(sid, now)
                        found.sessions[sid] = version

    def _prune(self) -> None:
        """Forget the sessions Streamlit no longer holds, and the classes left with none."""
        with self._lock:
            for code, found in list(self._classes.items()):
                for sid in [sid for sid in found.sessions if not _held(sid)]:
                    del found.sessions[sid]
                    found.owed.pop(sid, None)
                if not found.sessions:
                    del self._classes[code]

    def _owe_everyone(self) -> None:
        now = time.monotonic()
        with self._lock:
            for found in self._classes.values():
                for sid in found.sessions:
                    found.owed.setdefault(sid, now)

    def _rerun_owed(self) -> None:
        with self._lock:
            owed = [(sid, since) for found in self._classes.values() for sid, since in found.owed.items()]
        for sid, since in owed:
            _ask_rerun(sid, force=time.monotonic() - since >= RUN_GRACE, done=functools.partial(self._paid, sid))

    def _paid(self, session_id: str) -> None:
        with self._lock:
            for found in self._classes.values():
                found.owed.pop(session_id, None)


def _held(session_id: str) -> bool:
    """Whether the session is still connected (outside a Streamlit server, as in AppTest, every one is). A page
    that reconnects later runs again, and is followed again from there."""
    return not Runtime.exists() or Runtime.instance().is_active_session(session_id)


def _ask_rerun(session_id: str, force: bool, done: Any) -> None:
    """Ask Streamlit to rerun the session's page as it is (its page and query), from its own event loop; `done()`
    once asked (or the session is gone). Outside a Streamlit server (the in-process AppTest) nothing is asked."""
    session = Runtime.instance().get_app_session(session_id) if Runtime.exists() else None
    if session is None:  # disconnected: it reads the state when it comes back
        return done()

    def on_loop() -> None:
        if session._scriptrunner is not None and not force:  # running: a later tick asks again
            return
        done()
        session.request_rerun(session._client_state)

    try:
        session._event_loop.call_soon_threadsafe(on_loop)
    except RuntimeError:  # its loop is closed: the session is gone
        done()


@functools.cache
def opened(url: str | None) -> classes.Store:
    """This process's one connection to the store at `url` (pages and watcher share it)."""
    return classes.open_store(url)


def watch() -> Watch:
    """This process's watcher of the class store SYMBREAK_STORE names (started on first use)."""
    return _watch_of(os.environ.get("SYMBREAK_STORE"))


@functools.cache
def _watch_of(url: str | None) -> Watch:
    return Watch(url)
