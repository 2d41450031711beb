"""Driving the app in a browser, for the tests (through conftest.py's fixtures) and the benchmarks in bench/.

A Streamlit server of a checkout on a free port, the system's Chromium, and the waits that tell when a click
has been handled and the charts are drawn. The page scripts are the files in browser_js/, read once at import;
their values (selectors, counts) are passed as Playwright arguments.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
JS_DIR = Path(__file__).resolve().parent / "browser_js"
CHROMIUM = os.environ.get("SYMBREAK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SERVER_START_SECONDS = 90
# `streamlit run` as the app's own ways of serving start it (symbreak.serving.serve.PRELOAD, less the preloads an
# earlier checkout may not have): out of Streamlit's legacy pages/ mode before the first session.
STREAMLIT_RUN = ("from streamlit.runtime.pages_manager import PagesManager\n"
                 "PagesManager.uses_pages_directory = False\n"
                 "from streamlit.web.cli import main\n"
                 "main(prog_name='streamlit')")


def page_script(path: Path | str) -> str:
    """A script of browser_js/ (a name) or elsewhere (a path) for page.evaluate or wait_for_function, with the
    chart functions of browser_js/charts.js in front of it."""
    return (JS_DIR / "charts.js").read_text() + "\n" + (JS_DIR / path).read_text()


APP_IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
NAV = ".st-key-nav"  # the sidebar's page links (pages/access.py)
CHART = ".symbreak-chart"  # a plotly chart of the app (pages/charts.py)
CHART_DRAWN = f"{CHART} .main-svg"
QUIET_MS = 250  # a click has been handled when its run has finished and the page stayed unchanged this long
RUN_COUNTER_JS = (JS_DIR / "run_counter.js").read_text()  # an init script: window.__symbreakRuns, …Changed
ALL_CHARTS_DRAWN_JS = page_script("all_charts_drawn.js")  # (selector = the app's charts) -> bool
CHART_HASHES_JS = page_script("chart_hashes.js")  # (selector) -> one hash per chart
CHARTS_CHANGED_JS = page_script("charts_changed.js")  # ([selector, hashes before]) -> bool
FIRST_CHART_CHANGED_JS = page_script("first_chart_changed.js")  # ([selector, hash before]) -> bool
RERUN_DONE_JS = page_script("rerun_done.js")  # ([runs before, quiet ms]) -> bool
RERUN_STATE_JS = page_script("rerun_state.js")  # () -> [runs, script state, ms since the last change]
# The step the Playground shows, from the line under its headline ('Step 1,234 · hidden layer 1 · …').
PLAYGROUND_STEP = re.compile(r"^Step ([\d,]+) ·")


# ------------------------------------------------------------------ the server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health(url: str, timeout: float = 3) -> str | None:
    """What the server at url answers on /_stcore/health ('ok' once it serves), or None while nothing answers."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=timeout) as reply:
            return reply.read().decode().strip()
    except OSError:
        return None


def wait_for_health(url: str, process: subprocess.Popen, seconds: float, log: Path) -> None:
    """Wait until the server at url answers 'ok'; raise with the end of its log if it exits or stays silent."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        if health(url, timeout=2) == "ok":
            return
        time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer /_stcore/health within {seconds}s:\n{log.read_text()[-3000:]}")


@contextmanager
def streamlit_process(log: Path, seconds: float = SERVER_START_SECONDS,
                      root: Path = ROOT) -> Iterator[tuple[str, subprocess.Popen]]:
    """`streamlit run app.py` (of the checkout at `root`) on a free port until the block ends; yields its URL and
    process once it answers /health."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", STREAMLIT_RUN, "run", "app.py", "--server.headless=true",
             f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false"],
            cwd=root, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process, seconds, log)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def streamlit_server(log: Path, seconds: float = SERVER_START_SECONDS, root: Path = ROOT) -> Iterator[str]:
    """`streamlit_process`, for a caller that needs only the URL."""
    with streamlit_process(log, seconds, root) as (url, _):
        yield url


@contextmanager
def git_worktree(rev: str, parent: Path | str | None = None) -> Iterator[Path]:
    """A checkout of commit `rev` of this repository (a detached git worktree in a temporary folder under
    `parent`) until the block ends."""
    with tempfile.TemporaryDirectory(dir=parent) as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(tree), rev],
                       check=True, capture_output=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           check=False, capture_output=True)


# ------------------------------------------------------------------ the browser
def launch_chromium(playwright):
    """Headless Chromium from the system (Playwright's own download is not available here)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def open_app(page, url: str) -> None:
    """Go to url and wait until the script has finished and every chart is drawn, with no exception shown."""
    page.add_init_script(RUN_COUNTER_JS)
    page.goto(url)
    page.wait_for_selector(APP_IDLE)
    wait_charts_drawn(page)
    assert_no_exception(page)


def wait_charts_drawn(page, timeout: float = 30_000) -> None:
    """Wait until there is a plotly chart and every one has drawn its SVG."""
    page.wait_for_function(ALL_CHARTS_DRAWN_JS, arg=CHART, timeout=timeout)


def assert_no_exception(page) -> None:
    """No Streamlit exception box anywhere on the page."""
    boxes = page.get_by_test_id("stException")
    assert boxes.count() == 0, f"the app shows an exception: {boxes.first.inner_text()[:2000]}"


def runs(page) -> int:
    """Script runs (full or fragment) finished since the page was opened."""
    return int(page.evaluate("window.__symbreakRuns"))


def wait_rerun(page, before: int, timeout: float = 30_000) -> None:
    """Wait until a run after the first `before` ones has finished and the app has stayed idle."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(RERUN_DONE_JS, arg=[before, QUIET_MS], timeout=timeout)
    except PlaywrightTimeout:
        count, state, quiet = page.evaluate(RERUN_STATE_JS)
        raise AssertionError(f"no finished rerun within {timeout / 1000:.0f} s at {page.url}: {count} runs "
                             f"({before} before), script state {state!r}, last change {quiet} ms ago") from None


def click_and_wait(page, target, timeout: float = 30_000) -> None:
    """Click a locator and wait until the rerun it causes has finished; then check for exceptions."""
    before = runs(page)
    target.click()
    wait_rerun(page, before, timeout)
    assert_no_exception(page)


def chart_hashes(page, selector: str = CHART) -> list[int]:
    """One hash per plotly chart matching selector (default: every chart on the page), in page order."""
    return page.evaluate(CHART_HASHES_JS, selector)


def wait_charts_changed(page, before: list[int], selector: str = CHART, timeout: float = 15_000) -> None:
    """Wait until every chart matching selector was redrawn with other content than `before` (as many charts)."""
    page.wait_for_function(CHARTS_CHANGED_JS, arg=[selector, before], timeout=timeout)


def wait_first_chart_changed(page, before: int, selector: str = CHART, timeout: float = 15_000) -> None:
    """Wait until the first chart matching selector shows other content than the hash `before`."""
    page.wait_for_function(FIRST_CHART_CHANGED_JS, arg=[selector, before], timeout=timeout)


def playground_step(page) -> int:
    """The step the Playground's views show, read from the line under the headline."""
    line = page.get_by_test_id("stMain").get_by_text(PLAYGROUND_STEP).first
    return int(PLAYGROUND_STEP.search(line.inner_text()).group(1).replace(",", ""))


def upload_csv(page, path: Path | str, timeout: float = 30_000) -> None:
    """Upload a CSV through the sidebar's Data details and wait until its run is drawn."""
    sidebar = page.get_by_test_id("stSidebar")
    before = runs(page)
    sidebar.get_by_text("Data details").click()
    wait_rerun(page, before)
    before = runs(page)
    sidebar.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    wait_rerun(page, before, timeout)
    wait_charts_drawn(page, timeout)


# Pages of the navigation that draw no chart until they are used (the Teach page, until a class starts); the
# class's own tests drive them.
CHARTLESS_PAGES = ("Teach",)


def link_title(link) -> str:
    """A navigation link's page title (its text, less the icon's name)."""
    return link.inner_text().split("\n")[-1].strip()


def nav(page):
    """The app's own navigation: the page links at the top of the sidebar (pages/access.py)."""
    return page.get_by_test_id("stSidebar").locator(NAV)


def nav_paths(page) -> dict[str, str]:
    """Every page in the sidebar navigation of an opened app: title -> URL path. The sidebar must be open (a wide
    window)."""
    links = nav(page).get_by_role("link")
    home = "{0.scheme}://{0.netloc}/".format(urlsplit(page.url))
    found = {}
    for i in range(links.count()):
        link = links.nth(i)
        title = link.get_attribute("aria-label") or link.inner_text().split("\n")[-1].strip()
        found[title] = urlsplit(urljoin(home, link.get_attribute("href"))).path  # Streamlit's hrefs are relative
    return found


def whole_page_screenshot(page, path: Path | str, max_height: int = 6000, settle_ms: int = 800) -> None:
    """The whole page as a PNG: Streamlit scrolls inside its main area, so the window is made as tall as the
    content (up to max_height px) for the shot, then given back its size."""
    page.mouse.move(0, 0)  # no tooltip left open
    size = page.viewport_size
    height = page.evaluate("document.querySelector(\"[data-testid='stMainBlockContainer']\").scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": min(max(size["height"], height + 120), max_height)})
    page.wait_for_timeout(settle_ms)  # layout and plotly settle
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
