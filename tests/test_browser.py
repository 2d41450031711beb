"""The Playground end to end in headless Chromium against `streamlit run app.py`.

Load, Step, Play, Pause, change the starting weights or dropout, follow a link:
each test opens a fresh session and asserts on what a student sees (the step
under the headline, the "distinct neurons" metric, the charts' drawn SVG, the
URL).
Screenshots of the main states go to artifacts/ for a human to look at.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from st_protocol import Client, run_async
from symbreak.cli import main as cli_main
from browser_kit import (
    APP_IDLE, CHART, QUIET_MS, assert_no_exception, chart_hashes, click_and_wait, open_app, playground_step, runs,
    wait_charts_changed, wait_first_chart_changed, wait_rerun,
)

pytestmark = pytest.mark.browser

DISTINCT_TEXT = re.compile(r"(\d+) of (\d+)")
PLAY_SECONDS = 2.0
PAUSED_SECONDS = 1.5
PAUSE_SECONDS = 15  # from the click on Pause to the button saying Play again, on a busy 2-core machine
NEURONS = 8  # the default preset's hidden width


# ------------------------------------------------------------------ what the page shows
def button(page, label: str):
    """A button of the page's main block (Streamlit's header shows a Stop button of its own while a run is slow)."""
    return page.get_by_test_id("stMainBlockContainer").get_by_role("button", name=label, exact=True)


def distinct(page) -> tuple[int, int]:
    """(distinct groups, neurons) from the 'Distinct neurons' metric ('1 of 8')."""
    value = page.get_by_test_id("stMetricValue").first.inner_text()
    match = DISTINCT_TEXT.search(value)
    assert match, f"unexpected metric text {value!r}"
    return int(match.group(1)), int(match.group(2))


def query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def wait_idle(page) -> None:
    """After a widget change: the reruns it caused are over (idle for a while) and no exception is shown."""
    page.wait_for_selector(APP_IDLE)
    page.wait_for_function(f"() => performance.now() - window.__symbreakChanged >= {QUIET_MS}")
    page.wait_for_selector(APP_IDLE)
    assert_no_exception(page)


def choose(page, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label` and wait for the rerun.

    The list closes when its container scrolls, so the box is scrolled into view
    first and the click retried if the list did not stay open.
    """
    opener = page.get_by_test_id("stSelectbox").filter(has_text=label).get_by_role("button", name="Open")
    box = page.get_by_role("combobox", name=label, exact=True)
    for _ in range(3):
        opener.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        opener.click()
        try:
            expect(box).to_have_attribute("aria-expanded", "true", timeout=2000)
            break
        except AssertionError:
            continue
    before = runs(page)
    page.get_by_role("option", name=option, exact=True).click()
    wait_rerun(page, before)
    assert_no_exception(page)


def screenshot(page, artifacts: Path, name: str) -> None:
    page.mouse.move(0, 0)  # no tooltip left open by the last click
    page.wait_for_timeout(300)  # let plotly finish its transitions
    page.screenshot(path=str(artifacts / f"playground-{name}.png"))


# ------------------------------------------------------------------ tests
def live_draws(page) -> int:
    """How many figures the live chart (the first chart) has finished drawing (it counts them in data-draws)."""
    return int(page.locator(CHART).first.get_attribute("data-draws") or 0)


def test_first_screen(page, app_url, artifacts):
    open_app(page, app_url)
    expect(page.locator(CHART).first).to_be_visible()
    assert page.locator(CHART).count() >= 2, "the live views and the open tab's view"
    for label in ("Step 1", "Step 100", "Play", "Reset", "New random seed"):
        expect(button(page, label)).to_be_visible()
    assert playground_step(page) == 0
    assert distinct(page) == (1, NEURONS)
    expect(page.get_by_role("heading", level=2)).to_contain_text("identical")
    assert query(page) == {}, "the default run needs no URL parameters"
    screenshot(page, artifacts, "first-screen")


def test_step_redraws_every_chart(page, app_url, artifacts):
    open_app(page, app_url)
    before = chart_hashes(page)
    click_and_wait(page, button(page, "Step 1"))
    assert playground_step(page) == 1
    wait_charts_changed(page, before)

    before = chart_hashes(page)
    click_and_wait(page, button(page, "Step 100"))
    assert playground_step(page) == 101
    wait_charts_changed(page, before)
    assert distinct(page) == (1, NEURONS), "a constant start without dropout must stay tied"
    slider = page.get_by_test_id("stSlider").filter(has_text="Look back at step")
    expect(slider.get_by_test_id("stSliderThumbValue")).to_have_text("101")
    screenshot(page, artifacts, "after-step")

    click_and_wait(page, button(page, "Reset"))
    assert playground_step(page) == 0


def test_play_advances_and_pause_stops(page, app_url, artifacts):
    open_app(page, app_url)
    start = playground_step(page)
    live = chart_hashes(page)[0]  # the first chart is redrawn every frame (the tabbed views wait for Pause)
    button(page, "Play").click()
    expect(button(page, "Pause")).to_be_visible()
    expect(button(page, "Step 1")).to_be_disabled()
    draws = live_draws(page)
    page.wait_for_timeout(PLAY_SECONDS * 1000)
    playing = playground_step(page)
    assert playing > start, f"Play did not advance the step in {PLAY_SECONDS} s (still {playing})"
    wait_first_chart_changed(page, live)
    # More than one batch: the chart asked for the next batch by itself (one batch is 6 frames).
    assert live_draws(page) - draws > 6, "the live chart did not keep drawing new frames while playing"
    screenshot(page, artifacts, "during-play")

    button(page, "Pause").click()
    expect(button(page, "Play"), "one click on Pause must stop Play").to_be_visible(timeout=PAUSE_SECONDS * 1000)
    expect(button(page, "Step 1")).to_be_enabled()
    wait_idle(page)
    paused = playground_step(page)
    assert paused >= playing
    time.sleep(PAUSED_SECONDS)
    assert playground_step(page) == paused, "training went on after Pause (the app resumed by itself)"
    assert distinct(page) == (1, NEURONS)
    screenshot(page, artifacts, "after-play")


# A network whose steps take long enough (about 0.2 s each here) for Step 100 to need a progress bar.
SLOW_NETWORK = "hidden=64,64,64&dataset=spiral&n_samples=20000"


def test_a_long_step_shows_its_progress_moves_the_chart_and_stops(page, app_url, artifacts):
    open_app(page, f"{app_url}/?{SLOW_NETWORK}")
    progress = page.get_by_test_id("stProgress")
    live = chart_hashes(page)[0]
    button(page, "Step 100").click()
    expect(progress).to_be_visible(timeout=30_000)
    expect(progress).to_contain_text("Training: step")
    expect(button(page, "Step 1")).to_be_disabled()
    wait_first_chart_changed(page, live, timeout=30_000)  # the live chart follows the training
    screenshot(page, artifacts, "long-step")
    button(page, "Stop").click()
    expect(progress).to_have_count(0, timeout=30_000)
    page.wait_for_selector(APP_IDLE)
    assert_no_exception(page)
    expect(button(page, "Step 1")).to_be_enabled()
    assert 0 < playground_step(page) < 100, "Stop ends the Step N and keeps the steps made so far"


LATE_TICK_SECONDS = 1.5


async def late_tick_runs(url: str) -> int:
    """Play, then Pause; then the watchdog tick a browser may still send for the playing live area: the runs
    that tick started (a run after the loop ended could replace the script runner and drop the rest of the
    run that ended it, with its enabled controls)."""
    async with Client(url) as student:
        await student.press("Play")
        ticking = list(student._intervals)
        assert ticking, "while playing, the live area has a watchdog timer"
        await student.press("Pause")
        runs = student._starts
        for fragment in ticking:
            await student._send(student._client_state([], fragment, auto=True))
        await asyncio.sleep(LATE_TICK_SECONDS)
        assert not student.widget("Step 100", "button")[1].disabled
        return student._starts - runs


def test_a_late_watchdog_tick_after_pause_starts_no_run(app_url):
    assert run_async(lambda: late_tick_runs(app_url)) == 0


def test_random_init_starts_new_run_carried_by_the_url(page, app_url):
    open_app(page, app_url)
    click_and_wait(page, button(page, "Step 100"))
    assert distinct(page) == (1, NEURONS)

    choose(page, "Weight init", "xavier_uniform")
    assert playground_step(page) == 0, "a new init must start a new run"
    assert query(page).get("init") == "xavier_uniform", page.url
    assert distinct(page) == (NEURONS, NEURONS), "a random start gives every neuron its own weights"
    click_and_wait(page, button(page, "Step 100"))
    assert distinct(page) == (NEURONS, NEURONS)
    expect(page.get_by_role("heading", level=2)).not_to_contain_text("identical")

    other = page.context.new_page()
    open_app(other, page.url)
    expect(other.get_by_role("combobox", name="Weight init")).to_have_value("xavier_uniform")
    assert distinct(other) == (NEURONS, NEURONS)
    assert playground_step(other) == 0


def test_dropout_splits_the_neurons(page, app_url, artifacts):
    open_app(page, app_url)
    thumb = page.get_by_role("slider", name="Dropout rate")
    for _ in range(4):  # 4 × 0.05, one at a time: each value starts a new run
        before = runs(page)
        thumb.press("ArrowRight")
        wait_rerun(page, before)  # the slider sends its value after a short debounce
    wait_idle(page)
    expect(thumb).to_have_value("0.2")
    assert query(page).get("dropout") == "0.2", page.url
    assert playground_step(page) == 0
    assert distinct(page) == (1, NEURONS), "dropout does not change the (constant) start"

    click_and_wait(page, button(page, "Step 100"))
    groups, neurons = distinct(page)
    assert neurons == NEURONS and groups > 1, "random dropout masks must split the neurons"
    screenshot(page, artifacts, "with-dropout")

    other = page.context.new_page()
    open_app(other, page.url)
    expect(other.get_by_role("slider", name="Dropout rate")).to_have_value("0.2")
    click_and_wait(other, button(other, "Step 100"))
    assert distinct(other) == (groups, neurons), "the same link and steps must reproduce the same split"


def test_new_random_seed_goes_into_the_url(page, app_url):
    open_app(page, app_url)
    click_and_wait(page, button(page, "New random seed"))
    seed = query(page).get("seed")
    assert seed and seed != "0", page.url
    assert playground_step(page) == 0


def test_present_mode_hides_the_sidebar(page, app_url, artifacts):
    open_app(page, f"{app_url}/?present=1&dropout=0.2")
    expect(page.get_by_test_id("stSidebar")).to_be_hidden()
    expect(page.get_by_test_id("stExpandSidebarButton")).to_be_hidden()
    for label in ("Step 1", "Step 100", "Play"):
        expect(button(page, label)).to_be_visible()
    expect(button(page, "Reset")).to_have_count(0)
    click_and_wait(page, button(page, "Step 100"))
    assert playground_step(page) == 100
    assert query(page) == {"present": "1", "dropout": "0.2"}
    screenshot(page, artifacts, "present-mode")


def test_charts_follow_the_window_width(page, app_url):
    open_app(page, app_url)
    widths_js = f"""() => Array.from(document.querySelectorAll("{CHART}"),
        chart => [chart.getBoundingClientRect().width, chart.querySelector('.main-svg').getBoundingClientRect().width])"""
    wide = page.evaluate(widths_js)
    assert all(abs(svg - box) < 2 for box, svg in wide), wide
    page.set_viewport_size({"width": 1000, "height": 1000})
    page.wait_for_function(f"""() => ({widths_js})().every(([box, svg]) => box < {wide[0][0] - 200}
        && Math.abs(svg - box) < 2)""", timeout=10_000)


def test_a_projector_width_lays_out_the_live_chart_and_keeps_the_count_whole(page, app_url, artifacts):
    """At 1024×768 with the sidebar open the live chart gets a layout, not a zoom: it fills its column, is scaled
    no further than 0.8 (its text stays readable), and the 'Distinct neurons' count is not cut off."""
    page.set_viewport_size({"width": 1024, "height": 768})
    open_app(page, app_url)
    live = page.locator(CHART).first
    svg_width = live.locator(".main-svg").first.evaluate("svg => svg.getBoundingClientRect().width")
    assert abs(svg_width - live.bounding_box()["width"]) < 2, "the chart fills its column exactly"
    scale = live.locator(".js-plotly-plot").first.evaluate("p => p.getBoundingClientRect().width / p.offsetWidth")
    assert scale >= 0.8 - 1e-3, f"the live chart is zoomed out to {scale:.2f}: its text would be too small"
    count = page.get_by_test_id("stMetricValue").first
    whole = "el => [el, ...el.querySelectorAll('*')].every(part => part.scrollWidth <= part.clientWidth)"
    assert count.evaluate(whole), "the count is cut off (an ellipsis in place of its end)"
    assert distinct(page) == (1, NEURONS)
    screenshot(page, artifacts, "projector-1024")


def test_downloads_are_the_command_lines_files(page, app_url, tmp_path):
    """The three downloads after Step 100: `symbreak run --config` on the config file trains the same run and
    writes the same history and weights files, byte for byte (dropout included: the seed fixes its masks)."""
    open_app(page, f"{app_url}/?dropout=0.2&seed=5")
    click_and_wait(page, button(page, "Step 100"))
    click_and_wait(page, page.get_by_text("Download", exact=True))
    saved = {}
    for label, name in (("History (CSV)", "history.csv"), ("Config (JSON)", "config.json"),
                        ("Weights now (JSON)", "weights.json")):
        with page.expect_download() as download:
            page.get_by_role("button", name=label).click()
        saved[name] = tmp_path / name
        download.value.save_as(saved[name])
    assert json.loads(saved["config.json"].read_text())["train"]["dropout"] == 0.2
    history, weights = tmp_path / "cli-history.csv", tmp_path / "cli-weights.json"
    assert cli_main(["run", "--config", str(saved["config.json"]), "--steps", "100",
                     "--out-history", str(history), "--out-weights", str(weights)]) == 0
    assert saved["history.csv"].read_text() == history.read_text()
    assert saved["weights.json"].read_text() == weights.read_text()
