"""A poll's description in the store (the first student's page writes it, the teacher reads it), on SQLite and a
real Redis; and the poll logic of the class pages, tested without a browser."""

from __future__ import annotations

import pytest

from symbreak.serving.classes import ClassError, Store


def test_the_first_description_of_a_poll_stays_and_only_the_teacher_reads_it(room: tuple[Store, object]) -> None:
    store, made = room
    ann, bob = store.join(made.code, "Ann"), store.join(made.code, "Bob")
    assert store.poll_about(made.code, made.teacher_key, "q") == {}
    store.describe_poll(made.code, ann, "q", {"question": "Which?", "choices": ["a", "b"], "right": "b"})
    store.describe_poll(made.code, bob, "q", {"question": "changed", "choices": [], "right": "a"})
    assert store.poll_about(made.code, made.teacher_key, "q") == {"question": "Which?", "choices": ["a", "b"],
                                                                  "right": "b"}
    with pytest.raises(ClassError, match="teacher key"):
        store.poll_about(made.code, "wrong", "q")
    with pytest.raises(ClassError):
        store.describe_poll(made.code, "not-a-student", "q2", {"question": "?"})
    with pytest.raises(ClassError, match="poll description"):
        store.describe_poll(made.code, ann, "q3", {"question": "x" * 5000})
