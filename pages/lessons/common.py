"""Streamlit helpers shared by the lesson pages (import as `from pages.lessons import common as lc`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar
from urllib.parse import urlencode

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from pages import chrome, classroom, links
from symbreak.settings.config import Config

T = TypeVar("T")

PLAYGROUND = "pages/playground.py"
SHOW_ME = "Show me"
LAST_POLL = "lesson.poll"  # the poll of the question this page asked last: its reveal tells the board the answer
# Projector mode: the question's choices, its button and the answer in type a back row can read.
PRESENT_CSS = ("<style>.st-key-{key} [role='radiogroup'] label p {{font-size: 2rem; line-height: 1.35;}}"
               " .st-key-{key} [role='radiogroup'] label {{padding: 0.3rem 0;}}"
               " .st-key-{key} [data-testid='stRadioOption'] > div > div:first-child {{transform: scale(1.7);"
               " margin-right: 1rem;}}"
               " .st-key-{key} button p {{font-size: 1.6rem;}}"
               " .st-key-{key} button {{padding: 0.5rem 1.5rem;}}</style>")


def playground_link(config: Config, label: str = "Open this in the Playground") -> None:
    """A link to the Playground that carries `config` in the URL (its non-default flat settings).

    Inside the app it is a page link (same tab, same session); when a lesson runs on its own,
    where the Playground is not registered, it is a plain link to the default page at /.
    Projector mode (`?present=1`), a teacher's hide list (`?hide=...`) and `?predict=0` are carried along.
    """
    params = {**links.query_for_config(config), **links.carried_params()}
    try:
        st.page_link(PLAYGROUND, label=label, icon=":material/science:", query_params=params)
    except StreamlitPageNotFoundError:
        st.markdown(f":material/science: [{label}](/?{urlencode(params)})")


def projector() -> None:
    """Each lesson's first call: with `?present=1` the top bar and the sidebar make room for the lesson."""
    if chrome.present_mode():
        chrome.hide_sidebar()


def predict_enabled() -> bool:
    """Whether lessons open with their question (a teacher turns it off with `?predict=0`)."""
    return str(st.query_params.get(chrome.PREDICT_KEY, "1")).strip().lower() in chrome.TRUE_WORDS


def predict(key: str, question: str, choices: Sequence[str]) -> str | None:
    """Ask before showing: the student's choice ('' after "Show me" or with `?predict=0`), None until then.

    Once answered the page stays revealed for this session, so changing a control does not ask again.
    With `?present=1` the question, its choices (one to a line) and the button are drawn large.
    """
    if not predict_enabled():
        return ""
    if classroom.member() is not None:
        return _class_poll(key, question, choices)
    shown = f"{key}_revealed"
    big = chrome.present_mode()
    box = f"{key}_predict"
    if big:
        st.html(PRESENT_CSS.format(key=box))
    with st.container(key=box):
        st.markdown(f"## {question}" if big else f"#### {question}")
        choice = st.radio(question, list(choices), index=None, key=f"{key}_guess", label_visibility="collapsed",
                          horizontal=not big)
        if st.button(SHOW_ME, key=f"{key}_show"):
            st.session_state[shown] = True
    if choice is None and not st.session_state.get(shown):
        return None
    st.session_state[shown] = True
    return choice or ""


def _on_vote(key: str, poll: str, round_: int) -> None:
    answer = st.session_state.get(f"{key}_vote_{round_}")
    if answer:
        st.session_state[f"{key}_vote_error"] = classroom.vote(poll, round_, answer)


def _class_poll(key: str, question: str, choices: Sequence[str]) -> str | None:
    """In a class the question is a poll: the answer goes to the board and can change until the round closes;
    the measured answer waits for the teacher's Reveal. Returns the student's answer once revealed, else None."""
    poll = classroom.poll_id(key, question)
    st.session_state[LAST_POLL] = poll
    classroom.describe(poll, {"question": question, "choices": list(choices), "lesson": key})
    round_, closed, revealed = classroom.poll_round(poll)
    big = chrome.present_mode()
    box = f"{key}_predict"
    if big:
        st.html(PRESENT_CSS.format(key=box))
    field = f"{key}_vote_{round_}"
    if field not in st.session_state:
        mine = classroom.own_vote(poll, round_)
        st.session_state[field] = mine if mine in choices else None
    with st.container(key=box):
        heading = f"Class vote, round {round_}: {question}" if round_ > 1 else f"Class vote: {question}"
        st.markdown(f"## {heading}" if big else f"#### {heading}")
        choice = st.radio(question, list(choices), key=field, label_visibility="collapsed", horizontal=not big,
                          disabled=closed or revealed, on_change=_on_vote, args=(key, poll, round_))
        problem = st.session_state.get(f"{key}_vote_error")
        if problem:
            st.warning(chrome.plain(problem), icon=":material/cloud_off:")
        elif revealed:
            pass
        elif closed:
            st.info("Voting is closed. Talk it over: your teacher reveals the answer or opens another round.",
                    icon=":material/how_to_vote:")
        elif choice:
            st.success(f"Your answer: {chrome.plain(choice)}. You can change it until your teacher closes the vote.",
                       icon=":material/how_to_vote:")
        else:
            st.info("Pick an answer: only your teacher sees who answered what.", icon=":material/how_to_vote:")
    if not revealed:
        return None
    return choice or next((st.session_state.get(f"{key}_vote_{r}") for r in range(round_ - 1, 0, -1)
                           if st.session_state.get(f"{key}_vote_{r}")), "")


def reveal(guess: str | None, answer: str, right: str) -> None:
    """The measured answer after a prediction (large with `?present=1`), saying whether the guess matched."""
    if guess is None or not predict_enabled():
        return
    poll = st.session_state.get(LAST_POLL)
    if classroom.member() is not None and poll:  # the board counts who was right
        classroom.describe(poll + classroom.ANSWER_SUFFIX, {"right": right})
    if guess:
        verdict = "Your prediction matches the run." if guess == right else f"The run says: {right}."
        text = f"You predicted: {guess}. {verdict} {answer}"
    else:
        text = f"The run says: {right}. {answer}"
    if chrome.present_mode():
        st.markdown(f"### {text}")
    elif guess and guess != right:
        st.warning(text)
    else:
        st.success(text)


def train_with_progress(runs: int, steps: int, train: Callable[..., T]) -> T:
    """`train(progress=...)` under a progress bar ('Training 60 networks: 40% of 3,000 steps') that goes when it is
    done. Called inside a page's cached result, so a cached visit replays the bar already finished and gone."""
    bar = st.progress(0.0, text=f"Training {runs} networks for {steps:,} steps…")
    result = train(progress=lambda done: bar.progress(
        done, text=f"Training {runs} networks: {done:.0%} of {steps:,} steps"))
    bar.empty()
    return result
