"""A tour of every page in the navigation, in headless Chromium against `streamlit run app.py`.

Each page is opened by clicking its title in the sidebar navigation; it must
draw without an exception and with at least one chart, and its main control
(Step, Tie the neurons, the steps slider…) must visibly change the page. A
screenshot of each page goes to artifacts/tour-<page>.png.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser_kit import (
    CHART,
    CHARTLESS_PAGES,
    CHART_DRAWN,
    ROOT,
    assert_no_exception,
    chart_hashes,
    click_and_wait,
    nav,
    open_app,
    playground_step,
    runs,
    wait_charts_changed,
    wait_charts_drawn,
    wait_rerun,
    whole_page_screenshot,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

MAX_SHOT = 5000  # px: the tallest screenshot taken


# ------------------------------------------------------------------ helpers
def nav_titles(page) -> list[str]:
    links = nav(page).get_by_role("link")
    return [links.nth(i).get_attribute("aria-label") or links.nth(i).inner_text().split("\n")[-1].strip()
            for i in range(links.count())]


def button(page, label: str):
    return page.get_by_role("button", name=label, exact=True)


def screenshot(page, path: Path) -> None:
    """The whole page, as tall as its content."""
    whole_page_screenshot(page, path, max_height=MAX_SHOT, settle_ms=500)


def charts(key: str) -> str:
    """The plotly charts inside the element(s) with this Streamlit key."""
    return f".st-key-{key} {CHART}"


def press_and_wait(page, control, key: str, times: int = 1) -> None:
    """Press a key on a focused slider `times` times and wait for the rerun (sliders send after a debounce)."""
    before = runs(page)
    control.focus()
    for _ in range(times):
        control.press(key)
    wait_rerun(page, before)
    assert_no_exception(page)


# ------------------------------------------------------------------ the main control of each page
def step_playground(page) -> None:
    before = chart_hashes(page)
    click_and_wait(page, button(page, "Step 100"))
    assert playground_step(page) == 100
    wait_charts_changed(page, before)
    # Away to another page and back by the navigation: the session's run is kept.
    links = nav(page).get_by_role("link")
    click_and_wait(page, links.nth(1), timeout=60_000)
    click_and_wait(page, nav(page).get_by_role("link", name="Playground", exact=True), timeout=60_000)
    wait_charts_drawn(page)
    assert playground_step(page) == 100


def tie_and_step_gradients(page) -> None:
    tied = page.get_by_text("Nothing is highlighted")
    expect(tied).to_have_count(0)  # the first example starts with different neurons
    before = chart_hashes(page)
    click_and_wait(page, button(page, "Tie the neurons"))
    expect(tied).to_be_visible()
    click_and_wait(page, button(page, "Step 10"))
    expect(page.get_by_role("heading", name=re.compile(r"The chain rule at step 10\b"))).to_be_visible()
    expect(tied).to_be_visible()  # tied neurons stay tied
    wait_charts_changed(page, before)

    click_and_wait(page, button(page, "Untie only the outgoing weights"))
    expect(tied).to_have_count(0)
    expect(page.get_by_text("Highlighted: numbers that differ")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"The chain rule at step 0\b"))).to_be_visible()


def more_steps_breakers(page) -> None:
    before = chart_hashes(page, charts("lesson2_figure"))
    caption = page.get_by_text(re.compile(r"runs × \d+ steps"))
    old = caption.inner_text()
    press_and_wait(page, page.get_by_role("slider", name="Training steps"), "ArrowRight")
    expect(caption).not_to_have_text(old)
    wait_charts_changed(page, before, charts("lesson2_figure"))


def tanh_no_hidden(page) -> None:
    before = chart_hashes(page, charts("lesson3_hidden"))
    click_and_wait(page, page.get_by_test_id("stRadio").get_by_text("tanh", exact=True))
    expect(page.get_by_role("heading", name=re.compile(r"hidden tanh neurons"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"tanh\(0\) = 0"))).to_be_visible()
    wait_charts_changed(page, before, charts("lesson3_hidden"))


def lower_rate_split_speed(page) -> None:
    before = chart_hashes(page)
    rate = page.get_by_role("slider", name="Learning rate")
    value = rate.get_attribute("aria-valuetext")
    press_and_wait(page, rate, "ArrowLeft")
    expect(rate).not_to_have_attribute("aria-valuetext", value or "")
    wait_charts_changed(page, before)


def step_compare(page) -> None:
    before = chart_hashes(page)
    assert len(before) >= 2, "two configurations side by side"
    click_and_wait(page, button(page, "Step 100"))
    expect(page.get_by_text(re.compile(r"^Step 100 ·"))).to_be_visible()
    wait_charts_changed(page, before)


def show_me_then(page, control, key: str = "") -> None:
    """Answer a lesson's question with "Show me", then the page's own control must change the chart at `key`."""
    click_and_wait(page, button(page, "Show me"), timeout=120_000)
    wait_charts_drawn(page)
    expect(page.get_by_text(re.compile(r"^The run says: ")).first).to_be_visible()
    if control is not None:
        before = chart_hashes(page, charts(key))
        control(page)
        wait_charts_changed(page, before, charts(key))


def wider_wasted(page) -> None:
    show_me_then(page, lambda p: press_and_wait(p, p.get_by_role("slider", name="Neurons W"), "ArrowLeft"),
                 "lesson6_boundaries")


def larger_sigma_init_scale(page) -> None:
    show_me_then(page, lambda p: press_and_wait(p, p.get_by_role("slider", name="σ of the N(0, σ²) start"),
                                                "ArrowRight", times=3), "lesson7_std")


def draw_course(page) -> None:
    show_me_then(page, lambda p: press_and_wait(p, p.get_by_role("slider", name="Draw shown"), "ArrowRight"),
                 "lesson8_boundaries")
    expect(page.get_by_text(re.compile(r"trained as one batch in"))).to_be_visible()


def threshold_duplicates(page) -> None:
    show_me_then(page, lambda p: press_and_wait(p, p.get_by_role("slider", name="Near-duplicate when |cosine| is "
                                                                               "above"), "ArrowRight"),
                 "lesson9_counts")


def later_round_ticket(page) -> None:
    show_me_then(page, lambda p: press_and_wait(p, p.get_by_role("slider", name="Pruning round"), "ArrowRight"),
                 "lesson_ticket_network")


# title in the navigation → (page file, its main control)
PAGES: dict[str, tuple[str, Callable]] = {
    "Playground": ("pages/playground.py", step_playground),
    "Why the gradients match": ("pages/lessons/gradients.py", tie_and_step_gradients),
    "What breaks symmetry": ("pages/lessons/breakers.py", more_steps_breakers),
    "No hidden layer": ("pages/lessons/no_hidden.py", tanh_no_hidden),
    "How fast they split": ("pages/lessons/split_speed.py", lower_rate_split_speed),
    "Why a tie wastes the network": ("pages/lessons/wasted.py", wider_wasted),
    "Do random neurons still copy each other?": ("pages/lessons/duplicates.py", threshold_duplicates),
    "How big a random start": ("pages/lessons/init_scale.py", larger_sigma_init_scale),
    "The lottery ticket": ("pages/lessons/ticket.py", later_round_ticket),
    "The course's initialization experiment": ("pages/lessons/course.py", draw_course),
    "Compare": ("pages/compare.py", step_compare),
}
PRESENT = [title for title, (path, _) in PAGES.items() if (ROOT / path).exists()]


def open_from_nav(page, app_url: str, title: str) -> None:
    """Open the app, click `title` in the sidebar navigation, wait for the page and its first chart."""
    open_app(page, app_url)
    link = nav(page).get_by_role("link", name=title, exact=True)
    if urlsplit(page.url).path.strip("/") != urlsplit(link.get_attribute("href")).path.strip("/"):
        click_and_wait(page, link, timeout=60_000)
    expect(page).to_have_url(re.compile(re.escape(link.get_attribute("href")).rstrip("/") + r"/?(\?.*)?$"))
    wait_charts_drawn(page)
    assert_no_exception(page)


# ------------------------------------------------------------------ tests
def test_navigation_shows_every_page(page, app_url, artifacts):
    """Every page file is in the navigation; a page the tour does not know yet must still open and draw."""
    open_app(page, app_url)
    shown = nav_titles(page)
    missing = [title for title in PRESENT if title not in shown]
    assert not missing, f"pages with a file but no link in the sidebar navigation: {missing} (shown: {shown})"
    for title in (t for t in shown if t not in PAGES and t not in CHARTLESS_PAGES):
        click_and_wait(page, nav(page).get_by_role("link", name=title, exact=True), timeout=60_000)
        wait_charts_drawn(page)
        slug = re.sub(r"\W+", "_", title.lower())
        screenshot(page, artifacts / f"tour-{slug}.png")
        warnings.warn(f"page {title!r} opens and draws, but its main control is not toured: "
                      "add it to PAGES in tests/test_browser_lessons.py", stacklevel=1)


@pytest.mark.parametrize("title", PRESENT)
def test_page_opens_from_nav_and_its_main_control_works(page, app_url, artifacts, title):
    open_from_nav(page, app_url, title)
    expect(page.locator(CHART_DRAWN).first).to_be_visible()  # at least one chart, drawn
    stem = Path(PAGES[title][0]).stem
    screenshot(page, artifacts / f"tour-{stem}.png")
    PAGES[title][1](page)
    assert_no_exception(page)
    screenshot(page, artifacts / f"tour-{stem}-after.png")


# ------------------------------------------------------------------ the batched lessons on a projector and a phone
# name -> (viewport, a phone: touch and the mobile viewport, the address's query)
DEVICES = {"projector-1400": ({"width": 1400, "height": 1000}, False, "?present=1"),
           "phone-390": ({"width": 390, "height": 844}, True, "")}
TRAINING_MS = 240_000  # the first visit trains every network of the lesson, once per server
QUESTIONS = {"lesson_duplicates": "how many of 32 neurons end up doing something different?",
             "lesson_course": "which start classifies the test points best?"}
# How far the page (the window or Streamlit's scrolling main area) can scroll sideways.
SIDEWAYS_JS = """() => Math.max(...[document.documentElement, document.querySelector("[data-testid='stMain']")]
  .filter(Boolean).map(e => e.scrollWidth - e.clientWidth))"""


@pytest.mark.parametrize("device", list(DEVICES))
@pytest.mark.parametrize("url", list(QUESTIONS))
def test_batched_lesson_asks_then_answers_on_a_projector_and_a_phone(browser, app_url, artifacts, url, device):
    """Opened by its address (with ?present=1 on the projector): the question and "Show me", no answer yet; after
    "Show me" the measured answer, every chart drawn, nothing scrolling sideways. Both states are saved under
    artifacts/<lesson>-<device>-question.png and -answer.png."""
    viewport, mobile, query = DEVICES[device]
    context = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile)
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    try:
        open_app(tab, app_url)  # the app's navigation first, as a class arrives
        open_app(tab, f"{app_url}/{url}{query}")
        main = tab.get_by_test_id("stMainBlockContainer")
        expect(main.get_by_role("heading", name=re.compile(re.escape(QUESTIONS[url])))).to_be_visible()
        expect(main.get_by_text(re.compile(r"The run says: "))).to_have_count(0)
        if query:
            expect(tab.get_by_test_id("stSidebar")).to_have_count(0)
        assert tab.evaluate(SIDEWAYS_JS) <= 0
        screenshot(tab, artifacts / f"{url}-{device}-question.png")
        click_and_wait(tab, main.get_by_role("button", name="Show me"), timeout=TRAINING_MS)
        wait_charts_drawn(tab, timeout=60_000)
        expect(main.get_by_text(re.compile(r"The run says: ")).first).to_be_visible()
        expect(main.get_by_role("link", name=re.compile(r"in the Playground$"))).to_be_visible()
        assert tab.evaluate(SIDEWAYS_JS) <= 0, f"{url} scrolls sideways at {device}"
        screenshot(tab, artifacts / f"{url}-{device}-answer.png")
    finally:
        context.close()
