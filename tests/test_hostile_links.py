"""Hostile links against the Playground through AppTest: whatever a query string holds, the page never raises,
stays usable (Step works, a bad link is left with one click) and shows a user's value only as escaped text.

A hypothesis fuzz draws query strings of random keys and values: Markdown and HTML, deep nesting, huge numbers,
values up to 100,000 characters; hand-picked links pin the cases seen in the wild.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from pages.chrome import WORD_JOINER
from symbreak import Config, preset
from symbreak.settings.config import FLAT_FIELDS

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 60
FRESH = "playground.fresh"
# A backslash escape, or any other ASCII punctuation (which Markdown could read as syntax).
ESCAPE = re.compile(r"\\[!-/:-@\[-`{-~]")
PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")
AUTOLINK = re.compile(r"://|www\.|@\w", re.IGNORECASE)  # what GFM links even when it is escaped
LINK = "[Session expired: log in again](https://example.com/login)"
IMAGE = "![x](http://example.com/pixel.png)"


def open_app(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.run()
    return at


def assert_usable(at: AppTest) -> None:
    """No exception box, and the Step button is there."""
    assert not at.exception, [e.message[:300] for e in at.exception]
    assert any(b.label == "Step 1" for b in at.button), [b.label for b in at.button]


def trainer(at: AppTest):
    return at.session_state["playground.trainer"]


def messages(at: AppTest) -> list[str]:
    """The Markdown bodies of every red and yellow box."""
    return [e.value for e in at.error] + [w.value for w in at.warning]


def assert_escaped(markdown: str) -> None:
    """Every punctuation character of a message is backslash-escaped: Markdown draws it as that character."""
    bare = ESCAPE.sub("", markdown)
    assert not PUNCTUATION.search(bare), markdown[:300]
    drawn = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)
    assert not AUTOLINK.search(drawn), f"an autolink in {markdown[:300]!r}"
    assert "\n" not in markdown and len(ESCAPE.sub("x", markdown).replace(WORD_JOINER, "")) <= 400


def shown(markdown: str) -> str:
    """The text Markdown draws for an escaped message (the invisible word joiners dropped)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace(WORD_JOINER, "")


def assert_step_works(at: AppTest) -> None:
    before = trainer(at).step_count
    button = at.button(key="playground.step1")
    if trainer(at).all_diverged:
        assert button.disabled
        return
    button.click().run()
    assert not at.exception, [e.message[:300] for e in at.exception]
    assert trainer(at).step_count == before + 1 or trainer(at).all_diverged


# ------------------------------------------------------------------ links seen in the wild
@pytest.mark.parametrize(("field", "value", "words"), [
    ("init_weights", "[" * 5000 + "]" * 5000, "init_weights"),
    ("init_weights", '{"layers":[{"weight":[[' + "9" * 400 + ']],"bias":[0]}]}', "init_weights"),
    ("init_weights", '{"layers":' * 3000 + "1" + "}" * 3000, "init_weights"),
    ("lr", "1" + "0" * 400, "lr"),
    ("seed", "9" * 400, "seed"),
    ("hidden", "9" * 400, "hidden"),
    ("init", "constant:" + "9" * 400, "init"),
], ids=["deep-brackets", "400-digit-weight", "deep-objects", "400-digit-lr", "400-digit-seed", "400-digit-hidden",
        "400-digit-init"])
def test_a_link_that_crashed_the_page_gets_a_message_naming_the_field(field: str, value: str, words: str):
    at = open_app(**{field: value})
    assert_usable(at)
    found = [shown(m) for m in messages(at)]
    assert any(words in m and "ignored" in m for m in found), found
    assert all(len(m) <= 400 for m in found), "a message quotes the value short"
    assert trainer(at).config == Config() and field not in at.query_params
    assert_step_works(at)


@pytest.mark.parametrize("value", [LINK, IMAGE, "<img src=x onerror=alert(1)>", "**bold** _it_ `code` :red[red]",
                                   "https://example.com www.example.com", "$x^2$", "line\none\n# heading"],
                         ids=["link", "image", "html", "emphasis", "autolink", "latex", "newlines"])
def test_markdown_and_html_in_a_link_are_shown_as_text(value: str):
    at = open_app(lr=value, dataset=value, init=value)
    assert_usable(at)
    bodies = [m for m in messages(at)]
    assert len(bodies) == 3, bodies
    for body in bodies:
        assert_escaped(body)
    first_line = value.split("\n")[0]
    assert any(first_line[:40] in shown(b) for b in bodies), "the value is quoted, as typed"


def test_a_bad_value_is_quoted_once():
    at = open_app(lr="abc")
    assert_usable(at)
    found = [shown(m) for m in messages(at)]
    assert sum(m.count("'abc'") for m in found) == 1 and any(m.startswith("Link setting ignored: lr:") for m in found), found


def test_an_overlong_value_is_refused_unread():
    at = open_app(dataset="x" * 100_000, lr="0.5")
    assert_usable(at)
    found = [shown(m) for m in messages(at)]
    assert any("dataset ignored: 100,000 characters" in m for m in found), found
    assert trainer(at).config.train.lr == 0.5, "the good settings of the link are used"


def test_an_overlong_query_is_refused_whole():
    at = open_app(**{f"k{i}": "y" * 4000 for i in range(40)}, lr="0.5")
    assert_usable(at)
    found = [shown(m) for m in messages(at)]
    assert any(m.startswith("Link ignored") for m in found), found
    assert trainer(at).config == Config()


def test_a_bad_link_in_a_running_session_keeps_its_run():
    at = open_app(lr="0.5", dropout="0.2")
    at.button(key="playground.step1").click().run()
    run = trainer(at)
    at.query_params.clear()
    at.query_params["lr"] = LINK
    at.run()
    assert_usable(at)
    assert trainer(at) is run and run.config.train.lr == 0.5 and run.step_count == 1
    assert any(re.match(r"Link setting (ignored: lr:|lr=)", shown(m)) for m in messages(at))


def test_start_fresh_leaves_a_bad_link_in_one_click():
    at = open_app(lr=LINK, dropout="0.2", hidden="[" * 3000)
    assert_usable(at)
    assert len(at.error) == 2 and trainer(at).config.train.dropout == 0.2
    at.button(key=FRESH).click().run()
    assert_usable(at)
    assert dict(at.query_params) == {} and not at.error
    assert trainer(at).config == preset("constant") and trainer(at).step_count == 0
    assert not [b for b in at.button if b.key == FRESH], "no errors, no button"
    assert_step_works(at)


def test_start_fresh_keeps_a_teachers_projector_mode_and_usable_hide_list():
    at = open_app(lr=LINK, hide="dropout", present="1")
    at.button(key=FRESH).click().run()
    assert dict(at.query_params) == {"hide": "dropout", "present": "1"} and not at.error
    assert not [s for s in at.slider if s.key == "playground.w.dropout"], "dropout stays hidden"
    at = open_app(lr=LINK, hide="[x](https://example.com)")
    at.button(key=FRESH).click().run()
    assert dict(at.query_params) == {}, "a hide list that cannot be used goes too"


def test_a_hostile_upload_name_is_quoted_short_and_escaped():
    at = open_app()
    name = "[click](https://example.com)" * 20 + ".csv"
    at.session_state["playground.upload_request"] = (name, b"only\n1\n2\n3\n")
    at.run()
    assert_usable(at)
    assert at.error, "a one-column CSV gets its message"
    for body in messages(at):
        assert_escaped(body)
        assert len(shown(body)) <= 400


# ------------------------------------------------------------------ the fuzz
HOSTILE = st.sampled_from([
    LINK, IMAGE, "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)",
    "**b**", "`c`", ":red[x]", ":material/home:", "$x$", "\\", "'", '"', "\x00", "\n# h\n", "%00", "1e308",
    "-1e308", "nan", "inf", "0", "-0", "9" * 400, "constant:1e308", "normal:1e300", "zeros", "8,8,8,8",
    "64,64,64", "csv", "", " ",
])
NESTED = st.integers(1, 4000).map(lambda n: "[" * n + "]" * n) | st.integers(1, 4000).map(
    lambda n: '{"layers":' * n + "1" + "}" * n)
LONG = st.tuples(st.sampled_from("x[(*<"), st.integers(1, 100_000)).map(lambda t: t[0] * t[1])
VALUES = HOSTILE | NESTED | LONG | st.text(max_size=80) | st.lists(HOSTILE, max_size=4).map("".join)
KEYS = st.sampled_from([*FLAT_FIELDS, "preset", "present"]) | st.text(min_size=1, max_size=20)
QUERIES = st.dictionaries(KEYS, VALUES, max_size=6)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(QUERIES)
@example({"dataset": "x" * 100_000, "init_weights": "[" * 5000, "lr": IMAGE})
def test_no_link_breaks_the_page(params: dict[str, str]):
    at = open_app(**params)
    assert_usable(at)
    for body in at.error:
        assert_escaped(body.value)
    assert_step_works(at)


# ------------------------------------------------------------------ the shared dataset cache
def test_the_dataset_cache_is_bounded_in_bytes_and_drops_the_least_recently_used():
    from pages.session import DatasetCache, dataset_bytes
    from symbreak.data.builtin import make_builtin

    made = []

    def make(n: int):
        made.append(n)
        return make_builtin("xor", n_samples=n, noise=0.1, test_fraction=0.2, seed=0)

    size = {n: dataset_bytes(make(n)) for n in (100, 200, 300)}
    made.clear()
    cache = DatasetCache(size[100] + size[200] + size[300] - 1)
    first = cache.get(100, lambda: make(100))
    cache.get(200, lambda: make(200))
    assert cache.get(100, lambda: make(100)) is first, "a second session gets the same object"
    cache.get(300, lambda: make(300))  # over the bound: the least recently used (200) goes
    assert made == [100, 200, 300] and len(cache) == 2 and cache.bytes == size[100] + size[300]
    assert cache.bytes <= cache.max_bytes
    cache.get(200, lambda: make(200))
    assert made[-1] == 200 and cache.bytes <= cache.max_bytes
    huge = DatasetCache(size[100] - 1)
    assert huge.get(100, lambda: make(100)) is not None and len(huge) == 0 and huge.bytes == 0


def test_the_dataset_cache_counts_the_bytes_of_the_arrays():
    import numpy as np

    from pages.session import dataset_bytes
    from symbreak.data.builtin import make_builtin

    data = make_builtin("xor", n_samples=400, noise=0.1, test_fraction=0.25, seed=0)
    arrays = sum(np.asarray(a).nbytes for a in (data.x_train, data.y_train, data.x_test, data.y_test))
    assert arrays > 400 * 2 * 4 and arrays <= dataset_bytes(data) < arrays + 1000


def test_the_dataset_cache_is_safe_across_threads():
    import threading

    from pages.session import DatasetCache, dataset_bytes
    from symbreak.data.builtin import make_builtin

    cache = DatasetCache(10 * 2**20)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(40):
                n = 50 + (i + offset) % 7 * 10
                cache.get(n, lambda: make_builtin("xor", n_samples=n, noise=0.1, test_fraction=0.2, seed=0))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(cache) == 7
    sizes = [dataset_bytes(make_builtin("xor", n_samples=50 + k * 10, noise=0.1, test_fraction=0.2, seed=0))
             for k in range(7)]
    assert cache.bytes == sum(sizes), "each dataset counted once"
