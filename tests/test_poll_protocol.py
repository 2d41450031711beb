"""A class vote over two workers, through Streamlit's own protocol, on SQLite and on a real Redis: the teacher sends
everyone to a lesson, twenty students vote, change their vote and vote again; the counts are exact; nobody votes in a
closed round or sees the others' answers; and the reveal reaches every student."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from st_protocol import Client, ProtocolError, run_async
from streamlit.proto.WidgetStates_pb2 import WidgetState
from test_class_protocol import base, room  # noqa: F401  (the two-worker class fixture)
from pages.classroom import poll_id
from symbreak.lessons import wasted
from symbreak.serving import classes

pytestmark = pytest.mark.classroom
STUDENTS = 20
CHOICES = ("as well as one neuron", "as well as the random layer", "somewhere in between")
QUESTION = f"{wasted.WASTED_WIDTH} tied neurons on circles: how well will they do?"
POLL = poll_id("lesson6", QUESTION)
FOLLOW_SECONDS = 4.0  # a student's page reads the class state every 1.5 s


async def choose(client: Client, answer: str, round_: int) -> None:
    """Pick an answer of the class vote, as a tap on the radio does."""
    deadline = time.monotonic() + 10
    while True:  # the question's heading may arrive a moment before its radio
        try:
            _, radio, fragment = client.widget(f"lesson6_vote_{round_}", "radio")
            break
        except ProtocolError:
            assert time.monotonic() < deadline, client.texts()
            await asyncio.sleep(0.1)
    await client._timed(client._client_state([WidgetState(id=radio.id, string_value=answer)], fragment))


async def until(client: Client, text: str, seconds: float = 10.0) -> None:
    """Wait for the student's page to show `text` (its timers rerun it meanwhile)."""
    deadline = time.monotonic() + seconds
    while not any(text in t for t in client.texts()):
        assert time.monotonic() < deadline, f"{text!r} never shown: {client.texts()}"
        await asyncio.sleep(0.2)


def test_twenty_students_vote_change_and_vote_again_and_the_reveal_reaches_them(room) -> None:  # noqa: F811
    classroom, db, _ = room
    made = db.new_class()

    async def lesson() -> tuple[list[list[str]], float]:
        students = [Client(base(classroom), query=f"class={made.code}") for _ in range(STUDENTS)]
        await asyncio.gather(*(s.open() for s in students))
        await asyncio.gather(*(s.press("Join the class") for s in students))
        db.set_state(made.code, made.teacher_key, goto={"page": "pages/lessons/wasted.py", "id": 1})
        await asyncio.gather(*(until(s, f"Class vote: {QUESTION}") for s in students))
        first = [CHOICES[i % 3] for i in range(STUDENTS)]
        await asyncio.gather(*(choose(s, a, 1) for s, a in zip(students, first)))
        await asyncio.gather(*(choose(s, CHOICES[0], 1) for s in students[:5]))  # five change their minds
        hidden = [s.texts() for s in students]
        db.close_round(made.code, made.teacher_key, POLL, 1)
        db.set_state(made.code, made.teacher_key, polls={POLL: {"round": 2, "revealed": False}})
        await asyncio.gather(*(until(s, "Class vote, round 2") for s in students))
        await asyncio.gather(*(choose(s, CHOICES[2], 2) for s in students[: STUDENTS // 2]))
        db.close_round(made.code, made.teacher_key, POLL, 2)
        shown = time.monotonic()
        db.set_state(made.code, made.teacher_key, polls={POLL: {"round": 2, "revealed": True}})
        await asyncio.gather(*(until(s, "On the test set:", 30.0) for s in students))
        revealed_in = time.monotonic() - shown
        await asyncio.gather(*(s.close() for s in students))
        return hidden, revealed_in

    hidden, revealed_in = run_async(lesson)
    votes = db.votes(made.code, made.teacher_key, POLL)
    expected = [CHOICES[0] if i < 5 else CHOICES[i % 3] for i in range(STUDENTS)]
    assert sorted(votes[1].values()) == sorted(expected) and len(votes[1]) == STUDENTS
    assert list(votes[2].values()) == [CHOICES[2]] * (STUDENTS // 2)
    names = [r["name"] for r in db.rows(made.code, made.teacher_key)]
    for texts in hidden:
        mine = next(re.search(r" as \*\*(.+)\*\*$", t)[1] for t in texts if t.startswith(":material/groups:"))
        others = [n for n in names if n != mine and n not in mine]
        seen = [(n, t) for t in texts for n in others if n in t]
        assert not seen, f"a student saw another student's name: {seen}"
        assert not any("On the test set:" in t for t in texts), "the answer showed before the reveal"
    assert revealed_in < FOLLOW_SECONDS + 26
    student = db.join(made.code, "Late")
    with pytest.raises(classes.ClassError, match="closed"):
        db.vote(made.code, student, POLL, 1, CHOICES[1])
    about = db.poll_about(made.code, made.teacher_key, POLL)
    assert about["question"] == QUESTION and about["choices"] == list(CHOICES)
    assert db.poll_about(made.code, made.teacher_key, POLL + ":answer")["right"] in CHOICES
