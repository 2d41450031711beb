"""Every page on a phone (390 × 844, touch), a tablet (768 × 1024) and a projector (1024 × 768).

A phone gets a layout, not a zoom: no chart is scaled below 0.8, tick and
legend text is at least 11 px on screen, the page never scrolls sideways,
and the Playground's Step button is on screen and tappable as the page opens
(the sidebar starts collapsed), and Step and Play change the chart. The
tablet and the projector are held to the same rules, so their layouts do not
regress. Every page is saved as a screenshot at each size under artifacts/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser_kit import (APP_IDLE, CHART, chart_hashes, nav_paths, open_app, runs, wait_charts_changed, wait_rerun,
                         whole_page_screenshot)

pytestmark = pytest.mark.browser

# name → (viewport, a phone or tablet: touch and the mobile viewport)
SIZES = {
    "phone": ((390, 844), True),
    "tablet": ((768, 1024), True),
    "projector": ((1024, 768), False),
}
MIN_SCALE = 0.8
MIN_TEXT_PX = 11
MAX_SHOT = 6000  # px: the tallest screenshot taken
PLAY_SECONDS = 20
PLAYED_MS = 2000  # Play runs this long after its first new frame, before Pause
MAX_HEADLINE_LINES = 3
NO_CHARTS = "/teach"  # the class board: no chart until a class has runs
MIN_TAP_PX = 44  # the smallest touch target the platforms' guidelines ask for
# How many lines an element's text takes (its text's height, without padding, over its line height; a "normal"
# line height is taken as 1.2 times the font size).
LINES_JS = """el => {
  const text = document.createRange(), style = getComputedStyle(el);
  text.selectNodeContents(el);
  const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.2;
  return Math.round(text.getBoundingClientRect().height / line);
}"""

# For each drawn chart: how much it is scaled, and its smallest tick or legend text on screen (font size × scale).
CHART_TEXT_JS = f"""() => Array.from(document.querySelectorAll("{CHART}")).filter(box => box.clientWidth > 0)
  .map(box => {{
    const plot = box.querySelector(".js-plotly-plot");
    const scale = plot.getBoundingClientRect().width / plot.offsetWidth;
    const sizes = Array.from(plot.querySelectorAll(".xtick text, .ytick text, .legendtext"))
      .map(text => parseFloat(getComputedStyle(text).fontSize) * scale);
    return {{key: box.closest("[class*='st-key-']")?.className.match(/st-key-(\\S+)/)?.[1] || "",
             scale, text: sizes.length ? Math.min(...sizes) : null}};
  }})"""
# How far the page (the window or Streamlit's scrolling main area) can scroll sideways.
SIDEWAYS_JS = """() => Math.max(...[document.documentElement, document.querySelector("[data-testid='stMain']")]
  .filter(Boolean).map(e => e.scrollWidth - e.clientWidth))"""
# Whether a tap at the centre of the element lands on it (nothing, such as an open sidebar, covers it).
ON_TOP_JS = """element => {
  const r = element.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return r.bottom <= window.innerHeight && r.top >= 0 && (hit === element || element.contains(hit));
}"""


def wide_nav_paths(browser, app_url: str) -> dict[str, str]:
    """Every page in the sidebar navigation (read in a wide window, where the sidebar is open): title → path."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        open_app(page, app_url)
        return nav_paths(page)
    finally:
        context.close()


@pytest.fixture(scope="module")
def pages(browser, app_url: str) -> dict[str, str]:
    paths = wide_nav_paths(browser, app_url)
    assert "Playground" in paths and len(paths) > 1, f"the navigation lists too few pages: {paths}"
    return paths


@pytest.fixture(params=list(SIZES))
def device(request, browser):
    """A fresh page at one of SIZES."""
    (width, height), mobile = SIZES[request.param]
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=mobile, has_touch=mobile)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.size_name = request.param
    try:
        yield tab
    finally:
        context.close()


def slug(title: str) -> str:
    return re.sub(r"\W+", "_", title.lower()).strip("_")


def screenshot(page, name: str, artifacts) -> None:
    """The whole page, as tall as its content."""
    whole_page_screenshot(page, artifacts / f"{name}.png", max_height=MAX_SHOT)
    page.wait_for_timeout(500)


def assert_readable(page, where: str) -> None:
    """No chart scaled below MIN_SCALE, no tick or legend text under MIN_TEXT_PX, no sideways scroll."""
    page.wait_for_timeout(500)  # a chart that crossed the narrow width is redrawn in its other layout
    measured = page.evaluate(CHART_TEXT_JS)
    assert measured, f"{where}: no chart drawn"
    small = [m for m in measured if m["scale"] < MIN_SCALE - 1e-3]
    assert not small, f"{where}: charts scaled below {MIN_SCALE}: {small}"
    tiny = [m for m in measured if m["text"] is not None and m["text"] < MIN_TEXT_PX - 1e-3]
    assert not tiny, f"{where}: tick or legend text under {MIN_TEXT_PX} px: {tiny}"
    sideways = page.evaluate(SIDEWAYS_JS)
    assert sideways <= 0, f"{where}: the page scrolls {sideways} px sideways"


PAUSE_TAPS = 3


def step_button(page, label: str = "Step 1"):
    return page.get_by_test_id("stMainBlockContainer").get_by_role("button", name=label, exact=True)


def tap(page, target, mobile: bool) -> None:
    """A tap on a touch screen, a click elsewhere."""
    target.tap() if mobile else target.click()


def assert_step_and_play(page, mobile: bool, where: str) -> None:
    """Step 1 is on screen and uncovered as the page opens; tapping it, then Play, changes the live chart."""
    step = step_button(page)
    expect(step).to_be_visible()
    assert step.evaluate(ON_TOP_JS), f"{where}: Step 1 is off screen or covered as the page opens"
    live = f".st-key-playground-live {CHART}"
    before = chart_hashes(page, live)
    count = runs(page)
    tap(page, step, mobile)
    wait_rerun(page, count)
    wait_charts_changed(page, before, live)
    before = chart_hashes(page, live)
    tap(page, step_button(page, "Play"), mobile)
    pause = step_button(page, "Pause")
    expect(pause).to_be_visible()
    wait_charts_changed(page, before, live, timeout=PLAY_SECONDS * 1000)
    page.wait_for_timeout(PLAYED_MS)
    # A tap that lands while a batch redraws the button can be lost; Pause is idempotent, so it is tapped again.
    for attempt in range(PAUSE_TAPS):
        if step_button(page, "Play").count():
            break
        tap(page, pause, mobile)
        try:
            expect(step_button(page, "Play")).to_be_visible(timeout=PLAY_SECONDS * 1000 // PAUSE_TAPS)
        except AssertionError:
            if attempt == PAUSE_TAPS - 1:
                raise
    page.wait_for_selector(APP_IDLE)


def test_every_page_is_readable(device, pages, app_url, artifacts):
    """Each page in the navigation: charts at least 0.8 of their size, text at least 11 px, no sideways scroll."""
    for title, path in pages.items():
        where = f"{title} at {device.size_name}"
        if path == NO_CHARTS:
            device.goto(app_url + path)
            device.wait_for_selector(APP_IDLE)
            assert device.evaluate(SIDEWAYS_JS) <= 0, f"{where}: the page scrolls sideways"
        else:
            open_app(device, app_url + path)
            assert_readable(device, where)
        screenshot(device, f"phone-{device.size_name}-{slug(title)}", artifacts)


def test_playground_step_and_play(device, app_url):
    """The Playground: Step tappable as the page opens, Step and Play change the chart, and it stays readable."""
    mobile = SIZES[device.size_name][1]
    open_app(device, app_url)
    sidebar = device.get_by_test_id("stSidebar")
    if device.size_name == "phone":
        expect(sidebar).to_have_attribute("data-collapsed", "true")
        headline = device.get_by_test_id("stMainBlockContainer").get_by_role("heading", level=2).first
        lines = headline.evaluate(LINES_JS)
        assert lines <= MAX_HEADLINE_LINES, f"the headline takes {lines} lines at 390 px"
        count = device.get_by_test_id("stMetricValue").first
        assert count.evaluate(LINES_JS) == 1, "the 'Distinct neurons' count wraps"
        for label in ("Step 1", "Step 100", "Play", "Reset"):
            height = step_button(device, label).bounding_box()["height"]
            assert height >= MIN_TAP_PX, f"{label!r} is {height:.0f} px tall: too small to tap"
    row = device.locator(".st-key-playground-headline").bounding_box()
    step = step_button(device).bounding_box()
    live = device.locator(".st-key-playground-live").bounding_box()
    if device.size_name == "phone":  # the controls are the first thing under the headline, above the charts
        assert row["y"] + row["height"] <= step["y"] and step["y"] + step["height"] <= live["y"], (row, step, live)
    else:  # a wider screen keeps the controls on top
        assert step["y"] + step["height"] <= row["y"], (step, row)
    assert_step_and_play(device, mobile, f"the Playground at {device.size_name}")
    assert_readable(device, f"the Playground after Play at {device.size_name}")


def test_present_mode_shows_only_charts_and_controls(device, app_url, artifacts):
    """`?present=1`: no sidebar, no tabs, no settings; Step and Play work and the charts stay readable."""
    mobile = SIZES[device.size_name][1]
    open_app(device, app_url + "/?present=1")
    main = device.get_by_test_id("stMainBlockContainer")
    expect(device.get_by_test_id("stSidebar")).to_have_count(0)
    if device.size_name == "phone":
        expect(main.get_by_test_id("stTabs")).to_be_hidden()
    expect(main.get_by_role("button", name="Reset", exact=True)).to_have_count(0)
    assert_readable(device, f"present mode at {device.size_name}")
    screenshot(device, f"phone-{device.size_name}-present", artifacts)
    assert_step_and_play(device, mobile, f"present mode at {device.size_name}")
