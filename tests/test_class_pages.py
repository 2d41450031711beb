"""The class pages run in-process (Streamlit's AppTest) against a SQLite store: wrong codes are refused and slowed,
the teacher opens a student's run replayed bit for bit, a pause stops Step and Play, a lock hides controls, and a
student's page never holds the teacher key."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from symbreak import preset
from symbreak.classroom import summary as S
from symbreak.serving import classes

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
TIMEOUT = 60


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> classes.Store:
    url = str(tmp_path / "classes.sqlite3")
    monkeypatch.setenv("SYMBREAK_STORE", url)
    from pages import class_watch

    class_watch.opened.cache_clear()
    return classes.open_store(url)


def app(**query: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at.run()


def texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [e.value for e in at.error] + [i.value for i in at.info])


def test_wrong_codes_are_refused_and_then_slowed(db: classes.Store) -> None:
    at = app(**{"class": "ZZZZZZ"})
    for _ in range(3):
        at.button(key="class.link.join").click().run()
        assert "no class ZZZZZZ" in texts(at) or "ZZZZZZ" in texts(at)
    at.button(key="class.link.join").click().run()
    assert "Too many wrong codes" in texts(at)
    assert not at.exception


def test_the_teacher_opens_a_students_run_replayed_bitwise(db: classes.Store) -> None:
    teacher = app()
    teacher.switch_page("pages/teach.py").run()
    teacher.button[0].click().run()
    code, key = teacher.query_params["class"], teacher.query_params["key"]
    code, key = (code[0], key[0]) if isinstance(code, list) else (code, key)
    flat = preset("constant").with_flat(dropout="0.3").to_flat()
    student = db.join(code, "Ann")
    db.publish(code, student, S.summarise(S.replay(flat, 37)))
    teacher.run()
    assert not teacher.exception, [e.value for e in teacher.exception]
    [opener] = [b for b in teacher.button if b.label == "Open in my Playground"]
    opener.click().run()
    trainer = teacher.session_state["playground.trainer"]
    assert trainer.step_count == 37 and trainer.config.to_flat() == flat
    assert torch.equal(trainer.theta, S.replay(flat, 37).theta)


def test_a_pause_stops_stepping_and_a_lock_hides_controls(db: classes.Store) -> None:
    made = db.new_class()
    at = app(**{"class": made.code})
    at.button(key="class.link.join").click().run()
    assert at.button(key="playground.step1").disabled is False
    db.set_state(made.code, made.teacher_key, paused=True, hide=["dropout", "optimizer"])
    # The process's watcher reads the change (on a server it then reruns the page; here the test does).
    from pages import class_watch

    deadline = time.monotonic() + 10
    while not (class_watch.watch().state(made.code) or {}).get("paused") and time.monotonic() < deadline:
        time.sleep(0.1)
    at.run()
    assert at.button(key="playground.step1").disabled and at.button(key="playground.play").disabled
    assert "Paused by your teacher" in texts(at)
    labels = {w.label for w in [*at.sidebar.selectbox, *at.sidebar.slider, *at.sidebar.number_input]}
    assert "Dropout rate" not in labels and "Optimizer" not in labels and "Learning rate" in labels
    page = repr([at.session_state[k] for k in at.session_state]) + texts(at)
    assert made.teacher_key not in page, "a student's page holds the teacher key"
