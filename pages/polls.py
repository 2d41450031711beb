"""The teacher's view of the class's polls and the lesson's pace, on the Teach page: which lesson everyone opens,
each poll's question, a live chart of the answers per round, how many answered, and Close, Vote again and Reveal.

A poll opens by itself when the first student reaches a lesson's question; what the teacher does here goes to every
student's page through the class state, which their pages read every 1.5 s."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from pages import chrome, classroom
from pages.lessons import LESSON_PAGES
from symbreak.classroom import board as B
from symbreak.figures.board import poll_figure
from symbreak.serving import classes

_K = "teach.poll."


def _polls_state(state: dict[str, Any], poll: str, **change: Any) -> dict[str, Any]:
    polls = dict(state.get("polls") or {})
    polls[poll] = {**polls.get(poll, {"round": 1, "revealed": False}), **change}
    return polls


def _act(code: str, key: str, poll: str, action: str) -> None:
    """Close the round, open another (the first kept beside it) or reveal the answer to every student."""
    db = classroom.store()
    try:
        state = db.state(code)
        round_ = int(((state.get("polls") or {}).get(poll) or {}).get("round", 1))
        if action in ("close", "reveal"):
            db.close_round(code, key, poll, round_)
        if action == "again":
            db.set_state(code, key, polls=_polls_state(state, poll, round=round_ + 1, revealed=False))
        elif action == "reveal":
            db.set_state(code, key, polls=_polls_state(state, poll, revealed=True))
    except (AttributeError, classes.StoreDown, classes.ClassError) as exc:
        st.session_state[_K + "error"] = str(exc) or "The class store cannot be reached."


def _pace(code: str, key: str) -> None:
    db = classroom.store()
    path = st.session_state.get(_K + "lesson")
    try:
        state = db.state(code)
        goto = {"page": path, "id": int((state.get("goto") or {}).get("id", 0)) + 1}
        db.set_state(code, key, goto=goto)
        st.toast(f"Everyone goes to: {LESSON_PAGES.get(path, path)}")
    except (AttributeError, classes.StoreDown, classes.ClassError) as exc:
        st.session_state[_K + "error"] = str(exc) or "The class store cannot be reached."


def pace_controls(code: str, key: str) -> None:
    """'Everyone to lesson X': opens that lesson on every student's page, with its question first."""
    with st.container(horizontal=True, vertical_alignment="bottom", key="teach.pace"):
        st.selectbox("Lesson", list(LESSON_PAGES), format_func=LESSON_PAGES.get, key=_K + "lesson",
                     help="Every student's page opens this lesson; its question becomes a class vote.")
        st.button("Everyone to this lesson", on_click=_pace, args=(code, key), icon=":material/group:")


@dataclass(frozen=True)
class Polls:
    """What the store holds of a class's polls: ids (oldest first), descriptions, revealed answers, and votes."""

    ids: list[str]
    about: dict[str, dict]
    right: dict[str, str | None]
    votes: dict[str, dict[int, dict[str, str]]]

    def summaries(self) -> list[dict]:
        """Every round of every poll, with its counts and answers, for the exports."""
        return [entry for poll in self.ids
                for entry in B.poll_summary(self.about[poll].get("question", poll), self.votes[poll], False)]


def read(code: str, key: str) -> Polls | None:
    """The class's polls from the store (None while it cannot be reached)."""
    db = classroom.store()
    try:
        ids = db.polls(code, key)
        return Polls(ids, {poll: db.poll_about(code, key, poll) for poll in ids},
                     {poll: db.poll_about(code, key, poll + classroom.ANSWER_SUFFIX).get("right") for poll in ids},
                     {poll: db.votes(code, key, poll) for poll in ids})
    except (AttributeError, classes.StoreDown, classes.ClassError):
        return None


def poll_panel(code: str, key: str, rows: list[dict], state: dict[str, Any], found: Polls | None) -> None:
    """The newest poll (or the one picked), live: question, answers per round, who answered, the actions."""
    message = st.session_state.pop(_K + "error", "")
    if message:
        st.error(chrome.plain(message), icon=":material/error:")
    if found is None:
        st.warning("The polls cannot be read right now: retrying every second.", icon=":material/cloud_off:")
        return
    polls, about, right, votes = found.ids, found.about, found.right, found.votes
    if not polls:
        st.info("No vote yet: a lesson's question becomes a class vote when the first student reaches it. Send "
                "everyone to a lesson above to start.", icon=":material/how_to_vote:")
        return
    shown = polls[-1] if len(polls) == 1 else st.selectbox(
        "Poll", polls[::-1], format_func=lambda p: about[p].get("question", p), key=_K + "shown")
    mine = (state.get("polls") or {}).get(shown) or {}
    round_, revealed = int(mine.get("round", 1)), bool(mine.get("revealed"))
    closed = round_ in (state.get("closed") or {}).get(shown, [])
    counts = {e["round"]: e["counts"] for e in B.poll_summary(shown, votes[shown], True)}
    st.markdown(f"### {chrome.plain(about[shown].get('question', shown))}")
    answered = len(votes[shown].get(round_, {}))
    status = "revealed" if revealed else "closed" if closed else "open"
    st.markdown(f"**{answered} of {len(rows)} answered** in round {round_} · voting {status}")
    chrome.show_figure(poll_figure(about[shown].get("choices", []), counts, right[shown] if revealed else None),
                       key="teach.poll_chart")
    if revealed and right[shown]:
        st.markdown("Right: " + "; ".join(f"round {r}: {c.get(right[shown], 0)} of {sum(c.values())}"
                                          for r, c in sorted(counts.items())))
    with st.container(horizontal=True, key="teach.poll_actions"):
        st.button("Close the vote", on_click=_act, args=(code, key, shown, "close"), disabled=closed or revealed,
                  icon=":material/lock:", help="Answers stay as they are: a good moment to discuss.")
        st.button("Vote again", on_click=_act, args=(code, key, shown, "again"), icon=":material/replay:",
                  help="A second round after the discussion; the first round's answers stay beside it.")
        st.button("Reveal the answer", on_click=_act, args=(code, key, shown, "reveal"), type="primary",
                  disabled=revealed, icon=":material/visibility:",
                  help="Every student's page shows the measured answer within a few seconds.")

