"""The class store's contract on both backends (SQLite in a temporary folder, a real redis-server); what only one
has (a locked or unusable SQLite file, a Redis that stops and comes back, the expiry of each Redis key); and
`symbreak class new|export|close`, in this process and in another."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import random
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cli_hostile import cli

from symbreak.serving import classes
from symbreak.serving.classes import ALPHABET, CODE_LENGTH, MAX_NAME, ClassError, Store, StoreDown, open_store
from symbreak.serving.store import hash_key

ROOT = Path(__file__).resolve().parent.parent
HYPOTHESIS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Voters in another process: join `n` students named after `label` and answer "yes" or "no" in turn.
VOTER = """
import sys
from symbreak.serving.classes import open_store
url, code, label, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = open_store(url)
for i in range(n):
    store.vote(code, store.join(code, f"{label} {i}"), "q", 1, "yes" if i % 2 else "no")
"""


def teacher_calls(code: str, key: str) -> dict[str, tuple]:
    """Each teacher method with its arguments."""
    return {"close": (code, key), "rows": (code, key), "set_state": (code, key), "votes": (code, key, "q"),
            "polls": (code, key), "close_round": (code, key, "q", 1), "poll_about": (code, key, "q")}


def test_codes_come_from_the_alphabet_and_are_unique(store: Store) -> None:
    made = [store.new_class() for _ in range(40)]
    codes = [m.code for m in made]
    assert len(set(codes)) == len(codes) and len({m.teacher_key for m in made}) == len(made)
    for code in codes:
        assert len(code) == CODE_LENGTH and set(code) <= set(ALPHABET)
        assert classes.normalise_code(f" {code[:3].lower()}-{code[3:]} ") == code and store.exists(code)
    assert not set("01ILO") & set(ALPHABET)


@given(st.text(ALPHABET, min_size=CODE_LENGTH, max_size=CODE_LENGTH), st.randoms(), st.text(max_size=12))
def test_a_code_is_read_whatever_its_case_spaces_and_dashes(code: str, rng: random.Random, other: str) -> None:
    typed = "".join(ch.lower() if rng.random() < 0.5 else ch for ch in code)
    typed = "-".join([typed[:2], typed[2:4], typed[4:]]) if rng.random() < 0.5 else f"  {typed} "
    assert classes.normalise_code(typed) == code
    with contextlib.suppress(ClassError):
        assert set(classes.normalise_code(other)) <= set(ALPHABET), "anything else is a ClassError"


def test_names_are_cleaned_and_bounded() -> None:
    assert classes.clean_name("  Ann \t\n  Lee ") == "Ann Lee"
    assert classes.clean_name("A\x00n\x1bn\u202e") == "Ann"
    assert classes.clean_name("x" * MAX_NAME) == "x" * MAX_NAME
    for bad, says in (("", "empty"), (" \t\x00 ", "empty"), ("x" * (MAX_NAME + 1), f"at most {MAX_NAME}")):
        with pytest.raises(ClassError, match=says):
            classes.clean_name(bad)


def test_random_names_are_short_clean_and_repeatable() -> None:
    assert classes.random_name(random.Random(7)) == classes.random_name(random.Random(7))
    names = [classes.random_name() for _ in range(200)]
    assert all(len(name) <= MAX_NAME and classes.clean_name(name) == name and " " in name for name in names)


def test_open_store_reads_the_url_then_the_environment_then_the_default(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv(classes.STORE_ENV, raising=False)
    assert open_store().path == tmp_path / "data" / "symbreak" / "classes.sqlite3"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert classes.default_store_path() == Path.home() / ".local" / "share" / "symbreak" / "classes.sqlite3"
    monkeypatch.setenv(classes.STORE_ENV, str(tmp_path / "env.sqlite3"))
    assert open_store().path == tmp_path / "env.sqlite3"
    assert open_store(f"sqlite://{tmp_path}/given.db").path == tmp_path / "given.db"
    assert isinstance(open_store("redis://127.0.0.1:1/0"), classes.RedisStore)
    for bad in ("postgres://x/y", "sqlite://", "redis://host:port/0"):
        with pytest.raises(ValueError, match="redis://HOST|like sqlite:///"):
            open_store(bad)


def test_students_join_publish_and_the_teacher_reads_every_row(room) -> None:
    store, made = room
    ann, bob = store.join(made.code, "Ann"), store.join(made.code.lower(), "Bob")
    assert ann != bob and len(ann) >= 16
    store.publish(made.code, ann, {"step": 5, "loss": 0.25, "metrics": {"gap": [0.1, 0.2]}})
    store.publish(made.code, ann, {"step": 7})
    rows = store.rows(made.code, made.teacher_key)
    assert [r["name"] for r in rows] == ["Ann", "Bob"]
    assert {k: v for k, v in rows[0].items() if k not in ("joined_at", "updated_at")} == \
        {"name": "Ann", "label": "Ann", "step": 7}
    assert rows[1]["updated_at"] is None and rows[0]["updated_at"] >= rows[0]["joined_at"] > time.time() - 60
    mine = [{k: v for k, v in r.items() if k != "label"} for r in rows]
    assert [store.own_row(made.code, ann), store.own_row(made.code, bob)] == mine
    assert store.own_row(made.code, "not-a-student") is None
    assert all("student" not in r and ann not in json.dumps(r) for r in rows)


def test_a_student_writes_only_their_own_row(room) -> None:
    store, made = room
    ann, bob = store.join(made.code, "Ann"), store.join(made.code, "Bob")
    other = store.new_class()
    eve = store.join(other.code, "Eve")
    store.publish(made.code, bob, {"step": 1})
    store.publish(made.code, ann, {"step": 9, "name": "Bob", "student": bob})
    for stranger in (eve, "made-up", ""):
        with pytest.raises(ClassError, match="join it again"):
            store.publish(made.code, stranger, {"step": 666})
    rows = {r["name"]: r for r in store.rows(made.code, made.teacher_key)}
    assert rows["Ann"]["step"] == 9 and rows["Bob"]["step"] == 1 and "student" not in rows["Ann"]
    assert store.rows(other.code, other.teacher_key)[0]["updated_at"] is None
    for bad, says in (([1, 2], "dict"), ({"x": object()}, "JSON"), ({"x": "y" * 20_000}, "bytes")):
        with pytest.raises(ClassError, match=says):
            store.publish(made.code, ann, bad)


def test_a_name_with_markdown_or_html_comes_back_byte_for_byte(room) -> None:
    store, made = room
    name = "<b>**x**</b>|`$1`[a](#)"
    student = store.join(made.code, name)
    store.vote(made.code, student, "q", 1, "<i>yes</i>")
    assert store.rows(made.code, made.teacher_key)[0]["name"] == name == store.own_row(made.code, student)["name"]
    assert store.votes(made.code, made.teacher_key, "q") == {1: {name: "<i>yes</i>"}}


@HYPOTHESIS
@given(st.text(max_size=40))
def test_any_name_is_refused_in_one_line_or_stored_exactly_as_cleaned(room, name: str) -> None:
    store, made = room
    try:
        cleaned = classes.clean_name(name)
    except ClassError as exc:
        assert "\n" not in str(exc)
        with pytest.raises(ClassError):
            store.join(made.code, name)
        return
    assert cleaned == cleaned.strip() and len(cleaned) <= MAX_NAME
    student = store.join(made.code, name)
    assert store.own_row(made.code, student)["name"] == cleaned


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=10)
                           | st.floats(allow_nan=False, allow_infinity=False),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner))


@HYPOTHESIS
@given(st.dictionaries(st.text(max_size=8).filter(lambda k: k not in ("name", "student", "joined_at",
                                                                       "updated_at")), JSON_VALUES, max_size=5))
def test_any_json_row_comes_back_as_published(room, row: dict) -> None:
    store, made = room
    student = store.join(made.code, "Ann")
    store.publish(made.code, student, row)
    back = store.own_row(made.code, student)
    assert {k: v for k, v in back.items() if k not in ("name", "joined_at", "updated_at")} == row


def test_the_state_is_versioned_and_holds_no_name_and_no_key(room) -> None:
    store, made = room
    assert store.state(made.code) == {"version": 0}
    ann = store.join(made.code, "Annabel Secretname")
    store.publish(made.code, ann, {"step": 3})
    assert store.set_state(made.code, made.teacher_key, paused=True, start={"lr": 0.5}) == \
        {"version": 1, "paused": True, "start": {"lr": 0.5}}
    assert store.set_state(made.code, made.teacher_key, paused=False)["version"] == 2
    state = store.state(made.code)
    assert state == {"version": 2, "paused": False, "start": {"lr": 0.5}}
    assert not any(secret in json.dumps(state) for secret in ("Secretname", made.teacher_key, ann,
                                                              hash_key(made.teacher_key)))
    for kept in ("version", "closed"):
        with pytest.raises(ClassError, match="kept by the store"):
            store.set_state(made.code, made.teacher_key, **{kept: 9})


@pytest.mark.parametrize("method", sorted(teacher_calls("", "")))
def test_a_wrong_key_is_refused_by_every_teacher_method(room, method: str) -> None:
    store, made = room
    other = store.new_class()
    student = store.join(made.code, "Ann")
    store.vote(made.code, student, "q", 1, "yes")
    for wrong in ("", "x", made.teacher_key[:-1], made.teacher_key + "x", other.teacher_key):
        assert not store.check_key(made.code, wrong)
        with pytest.raises(ClassError, match="teacher key"):
            getattr(store, method)(*teacher_calls(made.code, wrong)[method])
    assert store.check_key(made.code, made.teacher_key) and not store.check_key("nonsense", made.teacher_key)
    assert store.state(made.code) == {"version": 0} and store.exists(made.code)
    assert store.votes(made.code, made.teacher_key, "q") == {1: {"Ann": "yes"}}


def test_closing_a_class_deletes_it(room, store_url: str) -> None:
    store, made = room
    student = store.join(made.code, "Ann")
    store.vote(made.code, student, "q", 1, "yes")
    store.close(made.code, made.teacher_key)
    assert not store.exists(made.code) and store.own_row(made.code, student) is None
    assert store.own_vote(made.code, student, "q", 1) is None
    for call in (lambda: store.join(made.code, "Bob"), lambda: store.state(made.code),
                 lambda: store.rows(made.code, made.teacher_key)):
        with pytest.raises(ClassError, match=f"no class {made.code}"):
            call()
    if store_url.startswith("redis://"):
        assert redis.Redis.from_url(store_url).keys(f"symbreak:class:{made.code}:*") == []


def test_a_class_past_its_ttl_is_gone(store: Store) -> None:
    made, lasting = store.new_class(ttl=0.5), store.new_class()
    student = store.join(made.code, "Ann")
    store.vote(made.code, student, "q", 1, "yes")
    time.sleep(0.7)
    assert not store.exists(made.code) and store.exists(lasting.code)
    assert not store.check_key(made.code, made.teacher_key) and store.own_row(made.code, student) is None
    for call in (lambda: store.join(made.code, "Bob"), lambda: store.state(made.code),
                 lambda: store.publish(made.code, student, {}), lambda: store.vote(made.code, student, "q", 1, "no"),
                 lambda: store.rows(made.code, made.teacher_key)):
        with pytest.raises(ClassError, match="no class"):
            call()
    for ttl in (0, -1, math.nan, math.inf, classes.MAX_TTL_SECONDS + 1):
        with pytest.raises(ClassError, match="ttl"):
            store.new_class(ttl=ttl)


def test_a_class_holds_max_students_with_names_of_at_most_max_name(store_url: str) -> None:
    store = open_store(store_url, max_students=3, max_name=5)
    made = store.new_class()
    assert store.own_row(made.code, store.join(made.code, "  Anna  "))["name"] == "Anna"
    for name in ("Annabel", "", "\x00"):
        with pytest.raises(ClassError, match="name"):
            store.join(made.code, name)
    store.join(made.code, "Bob")
    store.join(made.code, "Cy")
    with pytest.raises(ClassError, match=r"full \(3 students\)"):
        store.join(made.code, "Dan")
    assert len(store.rows(made.code, made.teacher_key)) == 3
    store.close_store()


def test_the_store_keeps_at_most_max_open_classes(store_url: str) -> None:
    store = open_store(store_url, max_open_classes=3)
    made = [store.new_class(), store.new_class(), store.new_class(ttl=0.3)]
    with pytest.raises(ClassError, match="3 classes are open"):
        store.new_class()
    store.close(made[0].code, made[0].teacher_key)
    store.new_class()
    time.sleep(0.5)
    store.new_class()
    with pytest.raises(ClassError, match="3 classes are open"):
        store.new_class()
    store.close_store()


def test_an_answer_changes_until_its_round_closes(room) -> None:
    store, made = room
    ann, bob = store.join(made.code, "Ann"), store.join(made.code, "Ann")
    store.vote(made.code, ann, "q1", 1, "yes")
    store.vote(made.code, ann, "q1", 1, "no")
    store.vote(made.code, bob, "q1", 1, "yes")
    assert store.own_vote(made.code, ann, "q1", 1) == "no" and store.own_vote(made.code, ann, "q1", 2) is None
    state = store.close_round(made.code, made.teacher_key, "q1", 1)
    assert state["closed"] == {"q1": [1]} and state["version"] == 1 and store.state(made.code) == state
    with pytest.raises(ClassError, match="round 1 of poll 'q1' is closed"):
        store.vote(made.code, ann, "q1", 1, "yes")
    store.vote(made.code, ann, "q1", 2, "yes")
    store.vote(made.code, bob, "q2", 1, "maybe")
    assert store.votes(made.code, made.teacher_key, "q1") == {1: {"Ann": "no", "Ann (2)": "yes"}, 2: {"Ann": "yes"}}
    assert store.polls(made.code, made.teacher_key) == ["q1", "q2"]
    assert store.votes(made.code, made.teacher_key, "none") == {}
    for bad, says in ((("", 1, "a"), "poll"), (("q", -1, "a"), "round"), (("q", True, "a"), "round"),
                      (("q", 1, ""), "answer"), (("q", 1, "a" * 201), "answer")):
        with pytest.raises(ClassError, match=says):
            store.vote(made.code, ann, *bad)
    with pytest.raises(ClassError, match="join it again"):
        store.vote(made.code, "stranger", "q1", 3, "yes")


def test_sixty_students_voting_at_once_are_all_counted(room) -> None:
    store, made = room
    students = [store.join(made.code, f"Student {i}") for i in range(60)]
    start = threading.Barrier(len(students))

    def vote(i: int, student: str) -> None:
        start.wait(timeout=60)
        store.vote(made.code, student, "q", 1, "first")
        store.vote(made.code, student, "q", 1, "yes" if i % 3 else "no")

    with ThreadPoolExecutor(max_workers=len(students)) as pool:
        list(pool.map(vote, range(len(students)), students))
    answers = store.votes(made.code, made.teacher_key, "q")[1]
    assert len(answers) == 60 and list(answers.values()).count("no") == 20
    assert all(answers[f"Student {i}"] == ("yes" if i % 3 else "no") for i in range(60))


def test_two_processes_voting_at_once_are_all_counted(room, store_url: str) -> None:
    """Two more processes share the store (for SQLite, its file) with this one: each sees what the others wrote."""
    store, made = room
    voters = [subprocess.Popen([sys.executable, "-c", VOTER, store_url, made.code, label, "25"], cwd=ROOT,
                               stderr=subprocess.PIPE, text=True) for label in ("A", "B")]
    for voter in voters:
        assert voter.wait(timeout=120) == 0, voter.stderr.read()
    answers = store.votes(made.code, made.teacher_key, "q")[1]
    assert len(answers) == 50 and list(answers.values()).count("yes") == 24
    assert len(store.rows(made.code, made.teacher_key)) == 50


def test_every_call_to_a_stopped_redis_is_store_down_and_it_recovers(doomed_redis) -> None:
    store = open_store(doomed_redis.url)
    made = store.new_class()
    student = store.join(made.code, "Ann")
    doomed_redis.stop()
    calls = {"new_class": (), "exists": (made.code,), "check_key": (made.code, made.teacher_key),
             "join": (made.code, "Bob"), "publish": (made.code, student, {"step": 1}),
             "own_row": (made.code, student), "state": (made.code,), "vote": (made.code, student, "q", 1, "a"),
             "own_vote": (made.code, student, "q", 1), **teacher_calls(made.code, made.teacher_key)}
    for method, args in calls.items():
        began = time.monotonic()
        with pytest.raises(StoreDown, match="cannot be reached"):
            getattr(store, method)(*args)
        assert time.monotonic() - began < 3, f"{method} waited on a stopped Redis"
    doomed_redis.start_again()
    assert store.exists(store.new_class().code)
    store.close_store()


def test_an_unusable_sqlite_file_is_store_down(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "garbage.sqlite3").write_bytes(b"not a database, and long enough to be read as a header " * 20)
    for path in (tmp_path / "a-file" / "classes.sqlite3", tmp_path, tmp_path / "garbage.sqlite3"):
        store = open_store(str(path))
        for call in (store.new_class, lambda: store.exists("ABCDEF")):
            with pytest.raises(StoreDown, match="cannot be used"):
                call()


def test_a_sqlite_file_locked_past_the_timeout_is_store_down_then_works(tmp_path: Path) -> None:
    path = tmp_path / "classes.sqlite3"
    store = classes.SqliteStore(path, busy_seconds=0.2)
    made = store.new_class()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    began = time.monotonic()
    with pytest.raises(StoreDown, match="locked"):
        store.join(made.code, "Ann")
    assert time.monotonic() - began < 2
    holder.execute("ROLLBACK")
    holder.close()
    assert store.join(made.code, "Ann")


def test_every_redis_key_of_a_class_expires_with_it(redis_url: str) -> None:
    store = open_store(redis_url)
    made = store.new_class()
    student = store.join(made.code, "Ann")
    store.publish(made.code, student, {"step": 1})
    store.vote(made.code, student, "q", 1, "yes")
    store.close_round(made.code, made.teacher_key, "q", 2)
    store.set_state(made.code, made.teacher_key, paused=True)
    client = redis.Redis.from_url(redis_url)
    keys = client.keys(f"symbreak:class:{made.code}:*")
    store.describe_poll(made.code, student, "q", {"question": "?"})
    keys = client.keys(f"symbreak:class:{made.code}:*")
    assert len(keys) == 8 and all(0 < client.pttl(key) <= classes.DEFAULT_TTL_SECONDS * 1000 for key in keys)


def test_class_new_prints_the_code_links_and_key(store_url: str) -> None:
    code, out, _ = cli(["class", "new", "--store", store_url,
                        "--ttl", "0.5", "--base-url", "https://ml.example.org/"])
    made = json.loads(out)
    assert code == 0 and set(made) == {"code", "join_url", "teacher_url", "teacher_key"}
    assert made["join_url"] == f"https://ml.example.org/?class={made['code']}"
    assert made["teacher_url"] == f"https://ml.example.org/teach?class={made['code']}&key={made['teacher_key']}"
    assert open_store(store_url).check_key(made["code"], made["teacher_key"])
    default = json.loads(cli(["class", "new", "--store", store_url])[1])
    assert default["join_url"] == f"http://localhost:8501/?class={default['code']}"


def test_class_export_csv_and_json_and_close(store_url: str) -> None:
    made = json.loads(cli(["class", "new", "--store", store_url])[1])
    store, code, key = open_store(store_url), made["code"], made["teacher_key"]
    ann, evil = store.join(code, "Ann"), store.join(code, "=HYPERLINK(\"x\")")
    store.publish(code, ann, {"step": 12, "loss": 0.5, "gap": [0.25, 0.0], "breaker": "=cmd()",
                              "settings": {"init": "@SUM(1)"}})
    for student, answer in ((ann, "yes"), (evil, "yes")):
        store.vote(code, student, "q1", 1, answer)
    store.vote(code, ann, "q1", 2, "no")
    status, out, _ = cli(["class", "export", code.lower(), "--key", key, "--store", store_url])
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == 0 and list(rows[0])[:2] == ["name", "step"]
    assert rows[0]["step"] == "12" and rows[0]["train loss"] == "0.5" and rows[0]["gap"] == "0.25 / 0"
    assert rows[0]["what broke the tie"] == "'=cmd()" and rows[0]["init"] == "'@SUM(1)"
    assert rows[1]["name"] == "'=HYPERLINK(\"x\")" and rows[1]["state"] == "joined"
    board = json.loads(cli(["class", "export", code, "--key", key, "--store", store_url, "--format", "json"])[1])
    assert board["code"] == code and [s["name"] for s in board["students"]] == ["Ann", "=HYPERLINK(\"x\")"]
    assert board["polls"] == [
        {"question": "q1", "round": 1, "counts": {"yes": 2}, "answers": {"Ann": "yes", "=HYPERLINK(\"x\")": "yes"}},
        {"question": "q1", "round": 2, "counts": {"no": 1}, "answers": {"Ann": "no"}}]
    hidden = json.loads(cli(["class", "export", code, "--key", key, "--store", store_url, "--format", "json",
                             "--anonymise"])[1])
    assert [s["name"] for s in hidden["students"]] == ["Student 1", "Student 2"]
    assert "Ann" not in json.dumps(hidden) and all("answers" not in poll for poll in hidden["polls"])
    anonymous_csv = cli(["class", "export", code, "--key", key, "--store", store_url, "--anonymise"])[1]
    assert "Ann" not in anonymous_csv and "Student 2" in anonymous_csv
    assert cli(["class", "close", code, "--key", key, "--store", store_url])[0] == 0 and not store.exists(code)


@pytest.mark.parametrize("args, says", [
    (["class", "export", "ABCDEF", "--key", "k"], "no class ABCDEF"),
    (["class", "export", "nope", "--key", "k"], "not a class code"),
    (["class", "close", "{code}", "--key", "wrong"], "teacher key"),
    (["class", "export", "{code}", "--key", "wrong", "--format", "json"], "teacher key"),
    *[(["class", "new", "--ttl", hours], "--ttl") for hours in ("0", "-1", "nan", "169")],
    (["class", "new", "--base-url", "ftp://x"], "--base-url"),
    (["class", "new", "--store", "postgres://db/x"], "--store: cannot open a class store"),
    (["class", "new", "--store", "{unwritable}"], "cannot be used"),
])
def test_class_mistakes_exit_2_with_one_line(args: list[str], says: str, tmp_path: Path) -> None:
    store_path = tmp_path / "classes.sqlite3"
    code = open_store(str(store_path)).new_class().code
    (tmp_path / "file").write_text("")
    args = [a.format(code=code, unwritable=tmp_path / "file" / "x.sqlite3") for a in args]
    status, out, err = cli(args if "--store" in args else [*args, "--store", str(store_path)])
    assert status == 2 and out == "" and says in err
    assert err.count("\n") == 1 and err.startswith("symbreak: error: ") and "Traceback" not in err


def test_a_class_made_by_the_command_is_seen_by_another_process(store_url: str) -> None:
    done = subprocess.run([sys.executable, "-m", "symbreak", "class", "new", "--store", store_url], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    store = open_store(store_url)
    assert store.exists(made["code"]) and store.check_key(made["code"], made["teacher_key"])
