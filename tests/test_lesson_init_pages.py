"""The three lessons about the starting weights, under Streamlit's AppTest: each opens on its
question, reveals the measured answer after a guess or "Show me", opens straight on the answer with
?predict=0, and its Playground link carries its configuration and the teacher's page-wide keys (present, hide,
predict). Two browser tests measure what the projector shows: the question's choices and button drawn large."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import pytest
import test_lesson_pages as lesson_pages  # also puts the app's folder on the path, as app.py runs
from streamlit.testing.v1 import AppTest
from test_lesson_pages import ROOT, links, text

from symbreak.lessons import course, init_scale, wasted
from symbreak.settings.config import Config

TIMEOUT = 120
PAGES = ("lesson_wasted", "lesson_init_scale", "lesson_course")
KEYS = {"lesson_wasted": "lesson6", "lesson_init_scale": "lesson7", "lesson_course": "lesson8"}
TEACHER = {"present": "1", "hide": "dropout,optimizer", "predict": "0"}  # the page-wide keys a link carries


def page(name: str, **query: str) -> AppTest:
    """A lesson page on the starting weights, given the time its batched runs need."""
    return lesson_pages.page(name, TIMEOUT, **query)


def in_app(name: str, **query: str) -> AppTest:
    """A lesson opened inside app.py with `query` in its address, as a teacher's link opens it.

    The query is set after the first run: the default page (the Playground) rewrites the address it opens on.
    """
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.query_params.update(query)
    at.switch_page(lesson_pages.page_path(name)).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def link_query(at: AppTest) -> dict[str, str]:
    """The query of the page's Playground link (inside the app it is a page link; the sidebar's are the navigation)."""
    [link] = at.main.get("page_link")
    return dict(parse_qsl(link.proto.query_string))


def link_config(query: dict[str, str]) -> Config:
    return Config.from_flat({k: v for k, v in query.items() if k not in TEACHER})


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
    result = wasted.wasted("circles", wasted.WASTED_WIDTH, wasted.WASTED_STEPS)
    t = result.table.set_index("network")
    [answer] = at.warning  # 32 tied neurons do as badly as one, not as well as 32 random ones
    assert answer.value.startswith("You predicted: as well as the random layer. The run says: as well as one neuron.")
    assert f"{wasted.WASTED_WIDTH} tied {t.loc[wasted.TIED, 'test accuracy']:.0%}" in answer.value
    shown = at.dataframe[0].value.set_index("network")
    assert shown.loc[wasted.TIED, "effective width"] == 1 and shown.loc[wasted.RANDOM, "effective width"] == wasted.WASTED_WIDTH
    assert "32 tied neurons** end as 1 distinct neuron" in text(at)
    # The guess stays answered when a control changes: a wider layer, still tied.
    at.select_slider(key="lesson6_width").set_value(8).run()
    assert not at.exception and at.dataframe[0].value.set_index("network").loc[wasted.TIED, "neurons"] == 8
    assert links(at)["Open “tied” in the Playground"] == wasted.wasted_arms("circles", 8, wasted.WASTED_STEPS)[wasted.TIED]


def test_predict_off_opens_on_the_answer_and_links_the_sigma_start() -> None:
    at = in_app("lesson_init_scale", predict="0")
    assert not [r for r in at.radio if r.key == "lesson7_guess"] and not at.success
    assert "the activations' std goes from" in text(at)
    expected = init_scale.scale_arms("tanh", init_scale.SCALE_SIGMA, init_scale.SCALE_DEPTH)[init_scale.NORMAL]
    query = link_query(at)
    assert query["predict"] == "0"  # the teacher's choice goes along to the next page
    config = link_config(query)
    assert config == expected and config.model.hidden == (init_scale.SCALE_WIDTH,) * init_scale.SCALE_DEPTH
    at.radio(key="lesson7_activation").set_value("relu").run()
    assert not at.exception
    assert link_config(link_query(at)).model.activation == "relu"


@pytest.mark.parametrize("name", PAGES)
def test_predict_off_skips_the_question_on_every_page_and_links_keep_the_teachers_keys(name: str) -> None:
    at = in_app(name, **TEACHER)
    key = KEYS[name]
    assert not [r for r in at.radio if r.key == f"{key}_guess"] and not [b for b in at.button if b.label == "Show me"]
    assert at.dataframe or "the activations' std goes from" in text(at)  # the measured answer, straight away
    query = link_query(at)
    assert {k: query.get(k) for k in TEACHER} == TEACHER
    defaults = {"lesson_wasted": wasted.wasted_arms("circles"), "lesson_init_scale": init_scale.scale_arms(),
                "lesson_course": course.course_configs()}
    assert link_config(query) in defaults[name].values()


@pytest.mark.parametrize("value", ["1", "true", "on"])
def test_predict_on_in_the_address_still_asks(value: str) -> None:
    at = page("lesson_wasted", predict=value)
    assert at.radio(key="lesson6_guess").value is None and not at.dataframe


@pytest.mark.parametrize("name", PAGES)
def test_present_mode_asks_in_large_type(name: str) -> None:
    """The question as a large heading; its choices one to a line, enlarged by the page's style; the button too."""
    key = KEYS[name]
    at = page(name, present="1")
    assert any(m.value.startswith("## ") for m in at.markdown)
    assert at.radio(key=f"{key}_guess").proto.horizontal is False
    styles = [h.proto.body for h in at.get("html")]
    [big] = [css for css in styles if f".st-key-{key}_predict" in css]
    assert "[role='radiogroup'] label p {font-size: 2rem" in big and f".st-key-{key}_predict button p" in big
    assert any("stHeader" in css for css in styles)  # the top bar makes room
    [box] = [b for b in at.get("flex_container") if getattr(b, "key", None) == f"{key}_predict"]
    assert {getattr(c, "key", None) for c in box.children.values()} >= {f"{key}_guess", f"{key}_show"}


def test_without_present_the_question_is_ordinary_size() -> None:
    at = page("lesson_init_scale")
    assert any(m.value.startswith("#### Start at σ = ") for m in at.markdown)
    assert at.radio(key="lesson7_guess").proto.horizontal is True
    assert not [h for h in at.get("html") if "font-size: 2rem" in h.proto.body]


def test_present_mode_answers_in_large_type() -> None:
    at = page("lesson_init_scale", present="1")
    at.radio(key="lesson7_guess").set_value(init_scale.FADES).run()
    assert any(m.value.startswith(f"### You predicted: {init_scale.FADES}. Your prediction matches the run.")
               for m in at.markdown)


def test_course_page_trains_once_and_shows_its_table() -> None:
    at = in_app("lesson_course", predict="0")
    table = at.dataframe[0].value.set_index("start")
    assert list(table.index) == list(course.COURSE_STARTS)
    assert list(table["draws"]) == [1, len(course.COURSE_SEEDS), len(course.COURSE_SEEDS)]
    assert table.loc["zeros", "train"] == "50%" and table.loc["zeros", "course train"] == "50%"
    assert (table.loc["N(0, 1)×10", "course train"], table.loc["N(0, 1)×10", "course test"]) == ("83%", "86%")
    assert re.fullmatch(r"\d+% \(\d+–\d+%\)", table.loc["He", "test"])  # the mean, then the draws' range
    runs = len(course.course_draws())
    assert f"{runs} networks × {course.COURSE_STEPS:,} steps" in at.caption[0].value
    assert link_config(link_query(at)) == course.course_configs()["He"]
    assert "does best on the test set" in text(at) or "tie on the test set" in text(at)
    again = page("lesson_course", predict="0")  # a second visitor: served from the cache, same numbers
    assert again.caption[0].value == at.caption[0].value


def test_the_course_pages_best_start_is_the_measured_one() -> None:
    """The answer names the start with the best mean test accuracy, and the sentence says whether it won every
    draw, as the table shows it."""
    at = in_app("lesson_course", predict="0")
    at.select_slider(key="lesson8_draw").set_value(3).run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value.set_index("start")
    mean = {name: int(cell.split("%")[0]) for name, cell in table["test"].items()}
    best = max(mean, key=mean.get)
    assert f"**{best}** does best on the test set" in text(at)


def test_a_class_opening_the_course_trains_it_once(monkeypatch) -> None:
    """Three visitors: the first trains (a short run here), the others get its stored result.

    Visitors arriving together wait on Streamlit's per-entry compute lock for the same single run
    (AppTest cannot run sessions in parallel threads, so the test opens them one after another).
    """
    import streamlit as st

    calls = []
    real = course.course_experiment

    def short(progress=None):
        calls.append(1)
        return real(steps=600, progress=progress)

    st.cache_data.clear()
    monkeypatch.setattr(course, "course_experiment", short)
    try:
        visitors = [page("lesson_course", predict="0") for _ in range(3)]
    finally:
        st.cache_data.clear()  # the short run must not stand in for the real one in later tests
    assert len(calls) == 1
    for at in visitors:
        assert "× 600 steps" in at.caption[0].value


# ------------------------------------------------------------------ in the browser: what the projector shows
@pytest.mark.browser
@pytest.mark.parametrize("width", [1024, 1400])
def test_projector_mode_draws_the_question_large_in_the_browser(browser, app_url, artifacts, width: int) -> None:
    """Measured in Chromium: the choices' text, their radio circles and the button are enlarged, the top bar is
    gone, and "Show me" answers in a large heading."""
    from browser_kit import click_and_wait, open_app

    context = browser.new_context(viewport={"width": width, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    try:
        open_app(tab, f"{app_url}/lesson_init_scale?present=1")
        box = tab.locator("[data-testid=stMainBlockContainer] .st-key-lesson7_predict")
        option = box.get_by_test_id("stRadioOption")
        assert option.count() == 3
        px = "e => parseFloat(getComputedStyle(e).fontSize)"
        assert option.first.locator("p").evaluate(px) >= 30
        assert option.first.locator(":scope > div > div").first.bounding_box()["width"] >= 24
        ys = [option.nth(i).bounding_box()["y"] for i in range(3)]
        assert ys == sorted(ys) and ys[0] < ys[1] < ys[2]  # one to a line
        assert box.get_by_role("button", name="Show me").locator("p").evaluate(px) >= 24
        assert tab.get_by_test_id("stHeader").is_hidden()
        tab.screenshot(path=str(artifacts / f"lesson_init_scale-present-{width}.png"))
        click_and_wait(tab, box.get_by_role("button", name="Show me"), timeout=120_000)
        answer = tab.locator("[data-testid=stMainBlockContainer] h3", has_text="The run says: it fades toward zero")
        assert answer.evaluate(px) >= 24
    finally:
        context.close()


@pytest.mark.browser
def test_predict_off_in_the_browser_opens_on_the_answer_and_its_link_keeps_it(page, app_url) -> None:
    from browser_kit import open_app

    open_app(page, f"{app_url}/lesson_wasted?predict=0")
    main = page.locator("[data-testid=stMainBlockContainer]")
    assert main.get_by_role("button", name="Show me").count() == 0
    assert main.get_by_text("tied neurons end as 1 distinct neuron", exact=False).count() == 1
    href = main.get_by_role("link", name="Open “tied” in the Playground").get_attribute("href")
    assert "predict=0" in href and "hidden=32" in href
