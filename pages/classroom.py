"""A student's side of a class, drawn on every page by app.py: joining by link or code, the class banner, the
start the teacher sent, the pause, and publishing the Playground run's summary to the board.

Membership lives in the session and in the URL (`?class=CODE&me=ID`), so a reload or a new worker finds the
student's row in the store and replays their run to the same step. The store is outside this process: a store
that cannot be reached costs a student nothing but a banner, and the run publishes again when it is back.
The page never polls: pages/class_watch.py reruns it when the class changes and writes its summaries.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from pages import class_watch
from pages.chrome import plain, short
from symbreak.classroom import summary as S
from symbreak.engine.trainer import Trainer
from symbreak.serving import classes
from symbreak.settings.config import Config

CLASS_KEY, ME_KEY = "class", "me"
RETRY_SECONDS = 5.0     # a store that failed to answer is asked again after this long
WRONG_FREE = 3          # wrong codes allowed before each further try waits
MAX_WAIT_SECONDS = 60
PLAYGROUND = "playground"
_K = "class."


def _get(part: str, default: Any = None) -> Any:
    return st.session_state.get(_K + part, default)


def _set(part: str, value: Any) -> None:
    st.session_state[_K + part] = value


def store() -> classes.Store | None:
    """This process's connection to the class store: None, and the banner says so, while it cannot be reached, and
    for RETRY_SECONDS after it last failed to answer (a silent store takes a second to time out: a page that kept
    asking would wait at every press)."""
    if time.monotonic() < _get("retry_at", 0.0):
        return None
    try:
        return class_watch.opened(os.environ.get("SYMBREAK_STORE"))
    except classes.StoreDown:
        return None


def code() -> str | None:
    """The class this session's student is in, if any."""
    return _get("code")


def member() -> tuple[str, str] | None:
    """(code, student id) of this session's student, or None outside a class."""
    return (_get("code"), _get("student")) if _get("student") else None


def _down(exc: Exception | None = None) -> None:
    """Note whether the store answered; after a failure it is left alone for RETRY_SECONDS."""
    _set("down", exc is not None)
    if exc is not None:
        _set("retry_at", time.monotonic() + RETRY_SECONDS)


def _unreachable() -> None:
    """The store was not asked (it failed a moment ago): the banner still says so."""
    _set("down", True)


# ------------------------------------------------------------------ joining
def _wait_left() -> float:
    return max(0.0, _get("wrong_until", 0.0) - time.monotonic())


def _refused() -> None:
    """A wrong code: after WRONG_FREE of them, each further try waits twice as long (up to a minute)."""
    wrong = _get("wrong", 0) + 1
    _set("wrong", wrong)
    if wrong >= WRONG_FREE:
        _set("wrong_until", time.monotonic() + min(MAX_WAIT_SECONDS, 2 ** (wrong - WRONG_FREE + 1)))


def join(text: str, name: str) -> str:
    """Join the class whose code is `text` under `name`; '' on success, else the message to show."""
    wait = _wait_left()
    if wait > 0:
        return f"Too many wrong codes: try again in {wait:.0f} s."
    db = store()
    if db is None:
        return "The class board cannot be reached right now: try again in a moment."
    try:
        the_code = classes.normalise_code(text)
        student = db.join(the_code, classes.clean_name(name))
    except classes.ClassError as exc:
        if "name" not in str(exc).lower():
            _refused()
        return str(exc)
    except classes.StoreDown:
        return "The class board cannot be reached right now: try again in a moment."
    _adopt(the_code, student, classes.clean_name(name))
    return ""


def _adopt(the_code: str, student: str, name: str) -> None:
    _set("code", the_code)
    _set("student", student)
    _set("name", name)
    _set("published", None)
    _set("wrong", 0)
    st.query_params[CLASS_KEY] = the_code
    st.query_params[ME_KEY] = student


def leave() -> None:
    for part in ("code", "student", "name", "published", "state", "seen_start", "down"):
        st.session_state.pop(_K + part, None)
    for key in (CLASS_KEY, ME_KEY):
        st.query_params.pop(key, None)


def _on_join(form: str) -> None:
    message = join(st.session_state.get(f"{form}.code", ""), st.session_state.get(f"{form}.name", ""))
    _set("join_error", message)


def _reconnect() -> None:
    """A reload or a new worker: the URL names the class and the student, the store has their row and run."""
    the_code, student = st.query_params.get(CLASS_KEY), st.query_params.get(ME_KEY)
    if not (the_code and student) or _get("student") == student:
        return
    db = store()
    if db is None:
        return _unreachable()
    try:
        row = db.own_row(the_code, student)
    except (classes.StoreDown, classes.ClassError):
        return
    if row is None:
        st.query_params.pop(ME_KEY, None)
        return
    _adopt(the_code, student, str(row.get("name", "")))
    _set("published", row if "step" in row else None)
    if "config" in row and st.session_state.get(f"{PLAYGROUND}.trainer") is None:
        _restore(row["config"], int(row.get("step", 0)))


def _restore(flat: dict[str, str], step: int) -> None:
    """Put the student's run back in the Playground: the same configuration, replayed to the same step."""
    from pages.session import RunSlot

    slot = RunSlot(PLAYGROUND)
    try:
        config = Config.from_flat(flat)
        if slot.start(config, announce=False) is None and step > 0:
            slot.trainer.step(step)
            slot.flash(f"Welcome back: your run is at step {step:,} again")
    except Exception:  # noqa: BLE001  a row from the store is data: if it cannot start, the student starts fresh
        return


def join_form(where: Any, form: str, default_code: str = "") -> None:
    """The code and name fields and a Join button (a name is suggested; the student can type their own)."""
    if f"{form}.name" not in st.session_state:
        st.session_state[f"{form}.name"] = classes.random_name()
    if default_code and f"{form}.code" not in st.session_state:
        st.session_state[f"{form}.code"] = default_code
    where.text_input("Class code", key=f"{form}.code", max_chars=12, placeholder="e.g. K7QM2P",
                     help="The six characters your teacher shows.")
    where.text_input("Your name on the board", key=f"{form}.name", max_chars=classes.MAX_NAME,
                     help=f"At most {classes.MAX_NAME} characters. Only your teacher sees it.")
    where.button("Join the class", key=f"{form}.join", on_click=_on_join, args=(form,), type="primary",
                 icon=":material/group_add:")
    message = _get("join_error")
    if message:
        where.error(plain(message), icon=":material/error:")


# ------------------------------------------------------------------ what the teacher changed
def class_state() -> dict[str, Any]:
    """The class's state as this session last read it (the start sent, pause, locked controls)."""
    return _get("state") or {}


def paused() -> bool:
    return member() is not None and bool(class_state().get("paused"))


def locked() -> frozenset[str]:
    """The controls the teacher locked for the class (hidden as a `?hide=` list hides them)."""
    return frozenset(class_state().get("hide", ())) if member() else frozenset()


def _read_state() -> None:
    """The class state: as the process's watcher last read it, or from the store before its first read."""
    db, who = store(), member()
    if who is None:
        return
    watcher = class_watch.watch()
    fresh = watcher.state(who[0])
    if fresh is None and db is not None:
        try:
            fresh = db.state(who[0])
        except classes.StoreDown as exc:
            return _down(exc)
        except classes.ClassError:
            fresh = {"closed_class": True}
        _down()
    elif fresh is not None and not watcher.down:
        _down()  # the watcher has read the store since: it answers again
    if fresh is not None and fresh.get("closed_class"):
        return leave()
    if fresh is not None:
        _set("state", fresh)


def _apply_start() -> None:
    """Take the start the teacher sent: a new Playground run with its settings."""
    from pages.session import RunSlot

    start = class_state().get("start") or {}
    _set("seen_start", start.get("id"))
    slot = RunSlot(PLAYGROUND)
    try:
        config = Config.from_flat(start.get("config", {}))
    except Exception as exc:  # noqa: BLE001  the teacher's start is data: a bad one is a message
        slot.set_errors([f"The start your teacher sent could not be used: {short(str(exc))}"])
        return
    if slot.trainer is None or slot.config != config:
        message = slot.start(config)
        if message:
            slot.set_errors([message])
    st.session_state["class.go_playground"] = True


def _pending_start() -> dict[str, Any] | None:
    start = class_state().get("start")
    return start if start and start.get("id") != _get("seen_start") else None


# ------------------------------------------------------------------ publishing the run
def publish(trainer: Trainer) -> None:
    """Hand the run's summary to the process's watcher when it changed: the watcher writes it to the board at most
    once a second, and again when a store that was down is back. The run never waits for the store."""
    who = member()
    if who is None:
        return
    row = S.summarise(trainer)
    if S.changed(_get("published"), row):
        class_watch.watch().send(who[0], who[1], row)
        _set("published", row)


# ------------------------------------------------------------------ polls: a lesson's question, voted by the class
ANSWER_SUFFIX = ":answer"


def poll_id(key: str, question: str) -> str:
    """A short id for one lesson's question as asked (its controls are in the text): 'lesson6:1a2b3c4d'."""
    return f"{key}:{hashlib.sha256(question.encode()).hexdigest()[:8]}"


def poll_round(poll: str) -> tuple[int, bool, bool]:
    """(the round open now, whether it is closed, whether the teacher revealed the answer) of a poll."""
    state = class_state()
    mine = (state.get("polls") or {}).get(poll) or {}
    round_ = int(mine.get("round", 1))
    return round_, round_ in (state.get("closed") or {}).get(poll, []), bool(mine.get("revealed"))


def describe(poll: str, about: dict[str, Any]) -> None:
    """Tell the teacher's board what a poll asks (once a session; the first student's description stays)."""
    who, db = member(), store()
    if who is None or db is None or _get(f"described.{poll}"):
        return
    try:
        db.describe_poll(who[0], who[1], poll, about)
        _set(f"described.{poll}", True)
    except (classes.StoreDown, classes.ClassError) as exc:
        _down(exc if isinstance(exc, classes.StoreDown) else None)


def vote(poll: str, round_: int, answer: str) -> str:
    """Send this student's answer for the round; '' when it counted, else why not."""
    who, db = member(), store()
    if who is None or db is None:
        return "The class board cannot be reached: your answer is kept here and sent again when you change it."
    try:
        db.vote(who[0], who[1], poll, round_, answer)
    except classes.StoreDown:
        _down(classes.StoreDown())
        return "The class board cannot be reached: your answer is kept here and sent again when you change it."
    except classes.ClassError as exc:
        return str(exc)
    _down()
    return ""


def own_vote(poll: str, round_: int) -> str | None:
    who, db = member(), store()
    if who is None or db is None:
        return None
    try:
        return db.own_vote(who[0], who[1], poll, round_)
    except (classes.StoreDown, classes.ClassError):
        return None


def _follow_pace(state: dict[str, Any]) -> None:
    """The teacher sent the class to a lesson: go there once."""
    goto = state.get("goto") or {}
    if goto.get("id") and goto.get("id") != _get("seen_goto"):
        _set("seen_goto", goto["id"])
        if goto.get("page") and goto["page"] != _get("page"):
            st.switch_page(goto["page"])


# ------------------------------------------------------------------ the banner on every page
def _offer(start: dict[str, Any]) -> None:
    label = short(str(start.get("label", "a new start")))
    with st.container(horizontal=True, vertical_alignment="center", key="class.offer"):
        st.info(f"Your teacher sent a start: {plain(label)}", icon=":material/send:")
        st.button("Use it", key="class.apply", on_click=_apply_start, type="primary", icon=":material/play_arrow:")


def banner(page: str) -> None:
    """On every page: the join form for a join link, or the class line (name, code, Leave), the start the teacher
    sent, the pause, and a note while the store cannot be reached. Nothing at all outside a class. `page` is the
    file of the page shown (pages/playground.py, pages/lessons/wasted.py, ...)."""
    _set("page", page)
    _reconnect()
    link_code = st.query_params.get(CLASS_KEY)
    if member() is None:
        if link_code:
            with st.container(border=True, key="class.join_panel"):
                st.markdown(f"**Join class {plain(short(link_code))}**")
                join_form(st, "class.link", default_code=link_code)
        return
    _read_state()
    if member() is None:  # the class was closed
        return
    context = get_script_run_ctx()
    if context is not None:
        class_watch.watch().follow(code(), context.session_id, class_state().get("version"))
    _follow_pace(class_state())
    start = _pending_start()
    if start and start.get("apply_now"):
        _apply_start()
    elif start:
        _offer(start)
    with st.container(horizontal=True, vertical_alignment="center", key="class.banner"):
        st.markdown(f":material/groups: In class **{plain(code())}** as **{plain(_get('name', ''))}**")
        if paused():
            st.markdown(":orange-badge[:material/pause_circle: Paused by your teacher: eyes to the front]")
        if _get("down") or class_watch.watch().down:
            st.markdown(":red-badge[:material/cloud_off: class board unreachable: your run goes on]")
        st.button("Leave", key="class.leave", on_click=leave, type="tertiary")
    if st.session_state.pop("class.go_playground", False) and page != "pages/playground.py":
        st.switch_page("pages/playground.py")
