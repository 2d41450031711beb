"""Every student: WCAG 2.1 AA by axe-core on every page and state, the Playground by keyboard alone, the live
region's sentence, the accessibility tree, reduced motion, and reflow at 320 px and at 200% zoom.

axe-core comes from the axe-playwright-python package (its bundled axe.min.js), injected into the page: no
network at test time. A violation fails its test with each rule, impact, target and summary printed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import axe_playwright_python
import pytest
from playwright.sync_api import expect

from browser_kit import (APP_IDLE, CHART, PLAYGROUND_STEP, RUN_COUNTER_JS, nav_paths, open_app, playground_step, runs,
                         wait_charts_drawn, wait_rerun, whole_page_screenshot)

pytestmark = pytest.mark.browser

AXE_JS = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_RUN_JS = "options => axe.run(document, options)"
# name -> (viewport, touch)
SIZES = {"wide": ((1400, 1000), False), "phone": ((390, 844), True)}
LIVE = ".symbreak-chart [role='status'][aria-live='polite']"
MAIN = "stMainBlockContainer"
MAX_PRESSES = 5
SETTLED_JS = """() => !document.querySelector("[data-stale='true']")
  && document.getAnimations().every(a => a.playState !== 'running')"""
# How far the page (the window or Streamlit's scrolling main area) can scroll sideways.
SIDEWAYS_JS = """() => Math.max(...[document.documentElement, document.querySelector("[data-testid='stMain']")]
  .filter(Boolean).map(e => e.scrollWidth - e.clientWidth))"""
FOCUSED_JS = """() => { const e = document.activeElement, s = getComputedStyle(e);
  return {text: e.innerText.trim(), tag: e.tagName, outline: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"""
# A control or chart line of an aria snapshot with no name: `- button` or `- img:` with nothing quoted.
UNNAMED = re.compile(r"^\s*- (button|link|slider|spinbutton|combobox|checkbox|radio|switch|tab|textbox|img)\s*:?$",
                     re.MULTILINE)
NAMED_IMAGE = re.compile(r"""^\s*- '?img "(.+?)"'?:?$""", re.MULTILINE)  # a name with a quote is 'quoted'


# ------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def paths(browser, app_url: str) -> dict[str, str]:
    """Every page of the app's navigation: title -> URL path."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        open_app(page, app_url)
        found = nav_paths(page)
    finally:
        context.close()
    assert "Playground" in found and "Compare" in found and "Teach" in found, f"pages missing: {found}"
    return found


def new_page(browser, size: str, **options):
    (width, height), touch = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=touch, has_touch=touch,
                                  **options)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.add_init_script(RUN_COUNTER_JS)  # for `runs`
    return context, page


def open_settled(page, url: str) -> None:
    """Open a page and wait until its script is done, its charts (if any) are drawn and nothing fades."""
    page.goto(url)
    page.wait_for_selector(APP_IDLE)
    page.wait_for_timeout(800)  # a page without charts (Teach) has none to wait for
    page.wait_for_selector(APP_IDLE)
    if page.locator(CHART).count():
        wait_charts_drawn(page, timeout=90_000)
    settle(page)


def settle(page) -> None:
    page.wait_for_function(SETTLED_JS)
    page.wait_for_timeout(300)


def violations(page) -> list[str]:
    """axe-core's violations of the WCAG A and AA rules, one line per element."""
    page.evaluate(AXE_JS)
    result = page.evaluate(AXE_RUN_JS, {"runOnly": {"type": "tag", "values": AXE_TAGS},
                                        "resultTypes": ["violations"]})
    return [f"{v['id']} ({v['impact']}) at {json.dumps(node['target'])}: "
            f"{node['failureSummary'].splitlines()[-1].strip()}"
            for v in result["violations"] for node in v["nodes"]]


def check_pages(browser, app_url: str, size: str, targets: list[str], **options) -> None:
    problems = []
    context, page = new_page(browser, size, **options)
    try:
        for target in targets:
            open_settled(page, app_url + target)
            problems += [f"{target} at {size}: {line}" for line in violations(page)]
    finally:
        context.close()
    assert not problems, f"{len(problems)} axe violations:\n" + "\n".join(problems)


def step(page, label: str = "Step 1", touch: bool = False) -> None:
    button = page.get_by_test_id(MAIN).get_by_role("button", name=label, exact=True)
    before = runs(page)
    button.tap() if touch else button.click()
    wait_rerun(page, before)
    wait_charts_drawn(page)
    settle(page)


def press(page, key: str) -> None:
    """A key press that reruns the page, waited for."""
    before = runs(page)
    page.keyboard.press(key)
    wait_rerun(page, before)


def live_text(page) -> str:
    return page.locator(LIVE).inner_text()


# ------------------------------------------------------------------ axe
@pytest.mark.parametrize("size", list(SIZES))
def test_no_axe_violations_on_any_page(browser, app_url, paths, size):
    check_pages(browser, app_url, size, list(paths.values()))


@pytest.mark.parametrize("size", list(SIZES))
def test_no_axe_violations_in_projector_mode(browser, app_url, paths, size):
    check_pages(browser, app_url, size, [f"{path}?present=1" for path in paths.values()])


@pytest.mark.parametrize("size", list(SIZES))
def test_no_axe_violations_with_the_lessons_answers_shown(browser, app_url, paths, size):
    lessons = [path for path in paths.values() if path.startswith("/lesson_")]
    assert lessons, f"no lesson in {paths}"
    check_pages(browser, app_url, size, [f"{path}?predict=0" for path in lessons])


@pytest.mark.parametrize("size", list(SIZES))
def test_no_axe_violations_after_a_step_and_with_the_data_shown(browser, app_url, size):
    context, page = new_page(browser, size)
    touch = SIZES[size][1]
    try:
        open_settled(page, app_url + "/?dropout=0.2")
        step(page, touch=touch)
        step(page, "Step 100", touch=touch)
        problems = violations(page)
        click = page.get_by_test_id(MAIN).get_by_text("Data: each neuron's weights now")
        before = runs(page)
        click.tap() if touch else click.click()
        wait_rerun(page, before)
        settle(page)
        problems += violations(page)
    finally:
        context.close()
    assert not problems, f"{len(problems)} axe violations:\n" + "\n".join(problems)


# ------------------------------------------------------------------ the keyboard
def test_the_keyboard_alone_runs_the_playground(page, app_url):
    open_app(page, app_url)
    settle(page)
    spoken = page.locator("[data-symbreak='shortcuts']")
    expect(spoken).to_contain_text("Keyboard shortcuts: 1 Step 1, N Step N, P or Space Play or Pause, R Reset")
    presses = 0
    for key in ["Tab", "Enter", "Tab", "Tab", "Tab"]:  # Streamlit's "Skip to main content", then the controls
        page.keyboard.press(key)
        presses += 1
        if page.evaluate(FOCUSED_JS)["text"] == "Step 1":
            break
    focused = page.evaluate(FOCUSED_JS)
    assert focused["text"] == "Step 1" and presses <= MAX_PRESSES, f"after {presses} presses the focus is on {focused}"
    assert focused["outline"] != "none" and focused["width"] >= 2, f"no visible focus ring on Step 1: {focused}"
    step_one = page.get_by_test_id(MAIN).get_by_role("button", name="Step 1", exact=True)
    assert step_one.get_attribute("aria-keyshortcuts") == "1"
    expect(page.locator(LIVE)).to_have_text(re.compile(r"^Step 0: 8 neurons, all tied, gap exactly 0; loss "))

    press(page, "Enter")  # the focused Step 1
    assert playground_step(page) == 1
    expect(page.locator(LIVE)).to_contain_text("Step 1: 8 neurons, all tied")
    press(page, "1")
    assert playground_step(page) == 2
    press(page, "n")
    assert playground_step(page) == 102
    expect(page.locator(LIVE)).to_contain_text("Step 102: 8 neurons, all tied")

    main = page.get_by_test_id(MAIN)
    field = main.get_by_role("spinbutton", name="N")
    field.focus()
    before = runs(page)
    page.keyboard.press("r")  # typed into the field: no Reset
    page.keyboard.press("1")
    page.wait_for_timeout(800)
    assert runs(page) == before and playground_step(page) == 102, "a key typed in a field pressed a button"
    field.press("Escape")
    main.get_by_role("heading", level=2).first.click()  # the focus leaves the field

    press(page, "p")
    expect(main.get_by_role("button", name="Pause", exact=True)).to_be_visible()
    page.wait_for_function(f"""() => Number((document.querySelector("{LIVE}")?.textContent || "")
        .match(/^Step ([\\d,]+)/)?.[1].replace(/,/g, "")) > 102""", timeout=30_000)
    press(page, " ")
    expect(main.get_by_role("button", name="Play", exact=True)).to_be_visible()
    page.wait_for_selector(APP_IDLE)
    assert playground_step(page) > 102
    press(page, "r")
    page.wait_for_function(f"""() => /^Step 0:/.test(document.querySelector("{LIVE}")?.textContent || "")""")
    assert playground_step(page) == 0


def test_the_layer_key_picks_the_next_hidden_layer(page, app_url):
    open_app(page, app_url + "/?hidden=4,3")
    settle(page)
    main = page.get_by_test_id(MAIN)
    expect(main.get_by_text(PLAYGROUND_STEP).first).to_contain_text("hidden layer 1")
    press(page, "l")
    expect(main.get_by_text(PLAYGROUND_STEP).first).to_contain_text("hidden layer 2")
    expect(page.locator(LIVE)).to_contain_text("3 neurons")


# ------------------------------------------------------------------ charts that speak
def test_the_live_region_says_tied_then_split_with_dropout(page, app_url):
    open_app(page, app_url)
    expect(page.locator(LIVE)).to_contain_text("tied")
    open_app(page, app_url + "/?dropout=0.2")
    expect(page.locator(LIVE)).to_contain_text("Step 0: 8 neurons, all tied")
    step(page)
    expect(page.locator(LIVE)).to_contain_text("split")
    assert "tied" not in live_text(page)


@pytest.mark.parametrize("path", ["/", "/lesson_breakers"])
def test_the_accessibility_tree_names_every_control_and_chart(page, app_url, path):
    open_app(page, app_url + path)
    settle(page)
    tree = page.get_by_test_id(MAIN).aria_snapshot()
    unnamed = UNNAMED.findall(tree)
    assert not unnamed, f"unnamed {unnamed} in the accessibility tree of {path}:\n{tree}"
    charts = page.locator(f"{CHART} .js-plotly-plot:visible")
    names = NAMED_IMAGE.findall(tree)
    assert len(names) >= charts.count() > 0, f"{charts.count()} charts but images named {names} on {path}"


def test_reduced_motion_redraws_without_transitions(browser, app_url):
    context, page = new_page(browser, "wide", reduced_motion="reduce")
    try:
        open_app(page, app_url)
        step(page)
        duration = page.evaluate(f"""() => document.querySelector("{CHART} .js-plotly-plot").layout
            .transition.duration""")
        assert duration == 0
    finally:
        context.close()


def test_the_sound_plays_one_tone_per_distinct_group(page, app_url):
    """Off by default; switched on, the live chart's chord has as many tones as the headline counts distinct
    neurons: one on a constant start, eight once dropout has split them."""
    open_app(page, app_url + "/?dropout=0.2")
    live = page.locator(f".st-key-playground-live {CHART}")
    assert live.get_attribute("data-tones") is None
    main = page.get_by_test_id(MAIN)
    before = runs(page)
    main.get_by_text("Listen to the neurons").click()
    wait_rerun(page, before)
    expect(live).to_have_attribute("data-tones", "1")
    expect(main.get_by_test_id("stMetricValue")).to_have_text("1 of 8")
    step(page)
    step(page, "Step 100")
    distinct = main.get_by_test_id("stMetricValue").inner_text().split(" of ")[0]
    assert int(distinct) > 1
    expect(live).to_have_attribute("data-tones", distinct)


# ------------------------------------------------------------------ reflow
@pytest.mark.parametrize("name,viewport,scale", [("320px", (320, 720), 1), ("zoom200", (640, 400), 2)])
def test_reflow_without_sideways_scrolling(browser, app_url, paths, artifacts, name, viewport, scale):
    """At 320 CSS px, and at 200% zoom of a 1280 x 800 window (640 x 400 CSS px at 2 device pixels each), no
    page scrolls sideways; axe's target-size rule checks the 24 x 24 px targets there too."""
    width, height = viewport
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale,
                                  is_mobile=scale == 1, has_touch=scale == 1)
    page = context.new_page()
    page.set_default_timeout(60_000)
    problems = []
    try:
        for title, path in paths.items():
            open_settled(page, app_url + path)
            sideways = page.evaluate(SIDEWAYS_JS)
            if sideways > 0:
                problems.append(f"{path}: the page scrolls {sideways} px sideways")
            problems += [f"{path}: {line}" for line in violations(page)]
            if path in ("/", "/lesson_breakers"):
                whole_page_screenshot(page, artifacts / f"a11y-{name}-{title.split()[0].lower()}.png",
                                      max_height=4000)
    finally:
        context.close()
    assert not problems, "\n".join(problems)
