"""How the Playground feels in a browser: redraw latency, Play frame rate, and memory per session.

Starts its own `streamlit run app.py` on a free port, drives headless Chromium
(the helpers of tests/browser_kit.py) and prints one line per measure with
its target:

1. click on "Step 100" → every chart redrawn (median of CLICKS clicks);
2. Play: redraws per second of the live chart (the first on the page; its own count of
   finished redraws, checked against its SVG), 8 neurons, and how many clicks Pause
   needs until the app stays paused;
3. the Step-100 redraw after ~10,000 steps over the same after ~200 steps;
4. the engine alone over 100,000 steps: history bytes and process RSS.

A redraw is over when the script run the click caused has finished and every
plotly chart's SVG differs from before the click; it is timed inside the page
(performance.now), so Playwright's round trips are not counted. Timings are of
a shared machine: compare them run to run, not to the decimal.

    python bench/bench_browser.py
    python bench/bench_browser.py --against REV   # 1. and 2. only, this tree and commit REV taking turns

With --against, the Step-100 clicks and Play run on this tree and on a
checkout of REV (a temporary git worktree) in turns, ROUNDS times each, and
the ratios of the medians are printed: on a machine whose speed drifts from minute to minute,
that is the fair way to tell whether a change made a difference. REV must
draw its charts through pages/charts.py (the bench reads its draw counter).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from browser_kit import (  # noqa: E402  (tests/ is put on the path just above)
    CHART,
    chart_hashes,
    git_worktree,
    launch_chromium,
    open_app,
    page_script,
    playground_step,
    runs,
    streamlit_server,
    wait_rerun,
)

CLICKS = 10
ROUNDS = 3
WARMUP_CLICKS = 2
PLAY_SECONDS = 5.0
TRAINED_FAR = 10_000
MEMORY_STEPS = (1_000, 10_000, 100_000)
CHUNK = 1_000
TARGET_REDRAW_MS = 400
TARGET_FPS = 8
STAY_PAUSED_MS = 2000
PAUSE_GIVE_UP_SECONDS = 120

HERE = Path(__file__).resolve().parent
CLICK_TO_REDRAW_JS = page_script(HERE / "browser_js" / "click_to_redraw.js")  # ([label, selector]) -> [ms, ms]
LIVE_DRAWS_JS = page_script(HERE / "browser_js" / "live_draws.js")  # (selector) -> [draws, SVG hash]


def click_to_redraw_ms(page, label: str, clicks: int) -> list[tuple[float, float]]:
    """(ms to the run's end, ms to every chart redrawn) after a click on `label`, `clicks` times in a row."""
    times = []
    for _ in range(clicks):
        times.append(tuple(page.evaluate(CLICK_TO_REDRAW_JS, [label, CHART])))
        page.wait_for_timeout(150)  # let the app settle (no run in flight) before the next click
    return times


def medians(times: list[tuple[float, float]]) -> tuple[float, float]:
    """The medians of both columns of click_to_redraw_ms."""
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def set_step_n(page, n: int) -> None:
    """Type n into the 'N' box of Step N and wait until the button says 'Step n'."""
    box = page.get_by_role("spinbutton", name="N", exact=True)
    before = runs(page)
    box.fill(str(n))
    box.press("Enter")
    wait_rerun(page, before)
    page.get_by_role("button", name=f"Step {n}", exact=True).wait_for()


def pause(page) -> int:
    """Click Pause until the app is paused and stays paused for STAY_PAUSED_MS; returns the clicks it took.

    One click should do; more means a click was lost or undone, which the output reports.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    clicks, deadline = 0, time.monotonic() + PAUSE_GIVE_UP_SECONDS
    while time.monotonic() < deadline:
        pause_button = page.get_by_role("button", name="Pause", exact=True)
        if pause_button.count():
            pause_button.click()
            clicks += 1
            try:
                page.get_by_role("button", name="Play", exact=True).wait_for(timeout=10_000)
            except PlaywrightTimeout:
                continue
        page.wait_for_timeout(STAY_PAUSED_MS)
        if page.get_by_role("button", name="Pause", exact=True).count() == 0:
            return clicks
    raise RuntimeError(f"the Playground did not stay paused within {PAUSE_GIVE_UP_SECONDS} s ({clicks} clicks)")


def play_rate(page, seconds: float) -> tuple[float, float, int]:
    """(chart redraws/s, frames/s from the steps trained, clicks Pause needed) over `seconds` of Play."""
    per_frame = int(page.get_by_role("spinbutton", name="Steps per frame").input_value())
    page.get_by_role("button", name="Play", exact=True).click()
    page.get_by_role("button", name="Pause", exact=True).wait_for()
    page.wait_for_timeout(1000)  # past the first frames
    (draws_before, svg_before), start_step = page.evaluate(LIVE_DRAWS_JS, CHART), playground_step(page)
    start = time.perf_counter()
    page.wait_for_timeout(seconds * 1000)
    (draws_after, svg_after), elapsed = page.evaluate(LIVE_DRAWS_JS, CHART), time.perf_counter() - start
    end_step = playground_step(page)
    if svg_after == svg_before:
        raise RuntimeError("the live chart did not change while playing")
    return (draws_after - draws_before) / elapsed, (end_step - start_step) / per_frame / elapsed, pause(page)


@contextmanager
def opened_app(root: Path = ROOT) -> Iterator[object]:
    """A projector-sized Chromium page on the app of the checkout at root (its own server), opened and drawn."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, streamlit_server(Path(tmp) / "streamlit.log", root=root) as url, \
            sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        open_app(page, url)
        try:
            yield page
        finally:
            browser.close()


def first_clicks(page) -> list[tuple[float, float]]:
    """click_to_redraw_ms of CLICKS Step-100 clicks on a page just opened, after WARMUP_CLICKS."""
    return click_to_redraw_ms(page, "Step 100", WARMUP_CLICKS + CLICKS)[WARMUP_CLICKS:]


def browser_lines() -> list[str]:
    lines = []
    with opened_app() as page:
        n_charts = len(chart_hashes(page))

        early = first_clicks(page)
        done, drawn = medians(early)
        lines.append(f"step-100 click to redraw ({n_charts} charts), page just opened: median {drawn:.0f} ms "
                     f"(min {min(t[1] for t in early):.0f}, max {max(t[1] for t in early):.0f}, {CLICKS} clicks; "
                     f"run seen finished after {done:.0f} ms) (target <= {TARGET_REDRAW_MS} ms)")

        redraws, frames, clicks = play_rate(page, PLAY_SECONDS)
        lines.append(f"play, 8 neurons: {redraws:.1f} redraws/s of the live chart, {frames:.1f} frames/s "
                     f"trained, over {PLAY_SECONDS:.0f} s (target >= {TARGET_FPS}/s)")
        lines.append(f"pause: {clicks} click(s) on Pause until it stayed paused (target 1)")

        page.wait_for_timeout(500)
        click_to_redraw_ms(page, "Reset", 1)
        click_to_redraw_ms(page, "Step 100", 2)
        near_from = playground_step(page)
        near = medians(click_to_redraw_ms(page, "Step 100", CLICKS))
        near_to = playground_step(page)
        set_step_n(page, CHUNK)
        while playground_step(page) < TRAINED_FAR:
            click_to_redraw_ms(page, f"Step {CHUNK}", 1)
        set_step_n(page, 100)
        far_from = playground_step(page)
        far = medians(click_to_redraw_ms(page, "Step 100", CLICKS))
        far_to = playground_step(page)
        # The same clicks as the first measure, after Play and Reset: a page in use (its code compiled and warm)
        # redraws faster than one just opened.
        lines.append(f"step-100 redraw at steps {far_from:,}-{far_to:,} / at steps {near_from:,}-{near_to:,} "
                     "(page in use): "
                     f"median {far[1]:.0f} ms / {near[1]:.0f} ms = {far[1] / near[1]:.2f} "
                     f"(run seen finished {far[0]:.0f} / {near[0]:.0f} ms) (target ≈ 1)")
    return lines


def step_clicks_and_play(root: Path) -> tuple[list[float], float]:
    """Ms from a Step-100 click to every chart redrawn, CLICKS times, then Play's redraws per second, on the app
    of the checkout at root."""
    with opened_app(root) as page:
        times = first_clicks(page)
        redraws = play_rate(page, PLAY_SECONDS)[0]
    return [t[1] for t in times], redraws


def against_lines(rev: str, rounds: int) -> list[str]:
    """The Step-100 redraw and Play's redraw rate on this tree and on commit `rev`, measured in turns; the
    ratios of the medians."""
    here, there, play_here, play_there = [], [], [], []
    with git_worktree(rev) as other:
        for _ in range(rounds):
            for clicks, plays, root in ((here, play_here, ROOT), (there, play_there, other)):
                times, redraws = step_clicks_and_play(root)
                clicks += times
                plays.append(redraws)
    a, b = statistics.median(here), statistics.median(there)
    c, d = statistics.median(play_here), statistics.median(play_there)
    return [f"step-100 click to redraw, taking turns ({rounds} x {CLICKS} clicks each): this tree median {a:.0f} ms, "
            f"{rev} median {b:.0f} ms: ratio {a / b:.2f} (lower is faster)",
            f"play, redraws/s of the live chart, taking turns ({rounds} x {PLAY_SECONDS:.0f} s each): this tree "
            f"median {c:.1f}, {rev} median {d:.1f}: ratio {c / d:.2f} (higher is faster)"]


def rss_bytes() -> int:
    """This process's resident set size, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def memory_lines() -> list[str]:
    """The engine alone, default config, 100,000 steps in chunks: history size and RSS at each checkpoint."""
    import torch

    from symbreak import Trainer
    from symbreak.settings.presets import DEFAULT_PRESET, preset

    torch.set_num_threads(1)  # as app.py does
    trainer = Trainer(preset(DEFAULT_PRESET))
    rss, lines = {}, []
    start = time.perf_counter()
    for target in MEMORY_STEPS:
        while trainer.step_count < target:
            trainer.step(min(CHUNK, target - trainer.step_count))
        rss[target] = rss_bytes()
        lines.append(f"memory at {target:>7,} steps: history.nbytes {trainer.history.nbytes:,} "
                     f"({trainer.history.count} rows, stride {trainer.history.stride}), "
                     f"RSS {rss[target] / 2**20:.0f} MiB")
    last, before = MEMORY_STEPS[-1], MEMORY_STEPS[-2]
    lines.append(f"memory: RSS({last // 1000}k) / RSS({before // 1000}k) = {rss[last] / rss[before]:.3f} "
                 f"(target ≈ 1; {last / (time.perf_counter() - start):.0f} steps/s)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-only", action="store_true",
                        help="only the engine memory measure (run in a fresh process by default)")
    parser.add_argument("--against", metavar="REV",
                        help="only the Step-100 redraw and Play, on this tree and on git commit REV in turns")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="turns each with --against")
    args = parser.parse_args()
    if args.against:
        print("\n".join(against_lines(args.against, args.rounds)), flush=True)
        return
    if args.memory_only:
        print("\n".join(memory_lines()), flush=True)
        return
    for line in browser_lines():
        print(line, flush=True)
    # A fresh process, so the RSS is the engine's and not Playwright's.
    subprocess.run([sys.executable, __file__, "--memory-only"], check=True)


if __name__ == "__main__":
    main()
