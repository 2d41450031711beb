"""The three lessons about the starting weights under Streamlit's AppTest (no browser): each opens on its
question, reveals the measured answer after a guess or "Show me", opens straight on the answer with
?predict=0, and its Playground link carries its configuration."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from symbreak import lessons_init as li
import test_lesson_pages as lesson_pages  # also puts the app's folder on the path, as app.py runs
from test_lesson_pages import links, text

TIMEOUT = 120
PAGES = ("lesson_wasted", "lesson_init_scale", "lesson_course")


def page(name: str, **query: str) -> AppTest:
    """A lesson page on the starting weights, given the time its batched runs need."""
    return lesson_pages.page(name, TIMEOUT, **query)


@pytest.mark.parametrize("name", PAGES)
def test_lesson_opens_on_its_question_and_hides_the_answer(name: str) -> None:
    at = page(name)
    [radio] = at.radio if name == "lesson_course" else [r for r in at.radio if r.key.endswith("_guess")]
    assert radio.value is None and len(radio.options) == 3
    assert [b.label for b in at.button] == ["Show me"]
    assert not at.dataframe and not at.success and not at.warning
    assert not links(at)


@pytest.mark.parametrize("name", ["lesson_wasted", "lesson_init_scale"])
def test_show_me_reveals_the_measured_answer(name: str) -> None:
    at = page(name)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    [answer] = at.success
    assert answer.value.startswith("The run says: ")
    assert links(at)


def test_wasted_guess_is_checked_against_the_measured_accuracies() -> None:
    at = page("lesson_wasted")
    at.radio(key="lesson6_guess").set_value("as well as the random layer").run()
    result = li.wasted("circles", li.WASTED_WIDTH, li.WASTED_STEPS)
    t = result.table.set_index("network")
    [answer] = at.warning  # 32 tied neurons do as badly as one, not as well as 32 random ones
    assert answer.value.startswith("You predicted: as well as the random layer. The run says: as well as one neuron.")
    assert f"{li.WASTED_WIDTH} tied {t.loc[li.TIED, 'test accuracy']:.0%}" in answer.value
    shown = at.dataframe[0].value.set_index("network")
    assert shown.loc[li.TIED, "effective width"] == 1 and shown.loc[li.RANDOM, "effective width"] == li.WASTED_WIDTH
    assert "32 tied neurons** end as 1 distinct neuron" in text(at)
    # The guess stays answered when a control changes: a wider layer, still tied.
    at.select_slider(key="lesson6_width").set_value(8).run()
    assert not at.exception and at.dataframe[0].value.set_index("network").loc[li.TIED, "neurons"] == 8
    assert links(at)["Open “tied” in the Playground"] == li.wasted_arms("circles", 8, li.WASTED_STEPS)[li.TIED]


def test_predict_off_opens_on_the_answer_and_links_the_sigma_start() -> None:
    at = page("lesson_init_scale", predict="0")
    assert not [r for r in at.radio if r.key == "lesson7_guess"] and not at.success
    assert "the activations' std goes from" in text(at)
    expected = li.scale_arms("tanh", li.SCALE_SIGMA, li.SCALE_DEPTH)[li.NORMAL]
    [(label, config)] = links(at).items()
    assert config == expected and config.model.hidden == (li.SCALE_WIDTH,) * li.SCALE_DEPTH
    at.radio(key="lesson7_activation").set_value("relu").run()
    assert not at.exception
    assert list(links(at).values())[0].model.activation == "relu"


def test_present_mode_asks_in_large_type() -> None:
    at = page("lesson_init_scale", present="1")
    assert any(m.value.startswith("## Start at σ = ") for m in at.markdown)
    at.radio(key="lesson7_guess").set_value(li.FADES).run()
    assert any(m.value.startswith(f"### You predicted: {li.FADES}. Your prediction matches the run.")
               for m in at.markdown)


def test_course_page_trains_once_and_shows_its_table() -> None:
    at = page("lesson_course", predict="0")
    table = at.dataframe[0].value.set_index("start")
    assert list(table.index) == list(li.COURSE_STARTS)
    assert table.loc["zeros", "train accuracy"] == "50%"
    assert f"{li.COURSE_STEPS:,} steps" in at.caption[0].value
    assert links(at)["Open “He” in the Playground"] == li.course_configs()["He"]
    again = page("lesson_course", predict="0")  # a second visitor: served from the cache, same numbers
    assert again.caption[0].value == at.caption[0].value


def test_a_class_opening_the_course_trains_it_once(monkeypatch) -> None:
    """Three visitors: the first trains (a short run here), the others get its stored result.

    Visitors arriving together wait on Streamlit's per-entry compute lock for the same single run
    (AppTest cannot run sessions in parallel threads, so the test opens them one after another).
    """
    import streamlit as st

    calls = []
    real = li.course_experiment

    def short(progress=None):
        calls.append(1)
        return real(steps=600, progress=progress)

    st.cache_data.clear()
    monkeypatch.setattr(li, "course_experiment", short)
    try:
        visitors = [page("lesson_course", predict="0") for _ in range(3)]
    finally:
        st.cache_data.clear()  # the short run must not stand in for the real one in later tests
    assert len(calls) == 1
    for at in visitors:
        assert "600 steps" in text(at)
