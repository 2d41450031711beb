"""Shared fixtures: a Streamlit server per test module and a headless Chromium.

The browser tests run for real in CI: a missing Chromium or Playwright fails
them with a message saying what to install, never a skip.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = os.environ.get("SYMBREAK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SERVER_START_SECONDS = 90


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
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        if health(url, timeout=2) == "ok":
            return
        time.sleep(0.3)
    pytest.fail(f"streamlit did not answer /_stcore/health within {seconds}s:\n{log.read_text()[-3000:]}")


@contextmanager
def streamlit_process(log: Path, seconds: float = SERVER_START_SECONDS,
                      root: Path = ROOT) -> Iterator[tuple[str, subprocess.Popen]]:
    """`streamlit run app.py` (of the checkout at `root`) on a free port until the block ends; yields its URL and
    process once it answers /health."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true",
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


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`streamlit run app.py` on a free port, shared by the tests of one module."""
    with streamlit_server(tmp_path_factory.mktemp("server") / "streamlit.log") as url:
        yield url


def launch_chromium(playwright):
    """Headless Chromium from the system (Playwright's own download is not available here)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (no browser download)."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium`")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: pip install -r requirements-dev.txt")
    with sync_playwright() as playwright:
        launched = launch_chromium(playwright)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser, app_url: str):
    """A fresh 1400×1000 page (a projector-sized window) that closes after the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where browser tests save their screenshots."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# ------------------------------------------------------------------ browser helpers (tests and bench/)
APP_IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
CHART = ".symbreak-chart"  # a plotly chart of the app (pages/charts.py)
CHART_DRAWN = f"{CHART} .main-svg"
ALL_CHARTS_DRAWN_JS = f"""() => {{
  const charts = document.querySelectorAll("{CHART}");
  return charts.length > 0 && Array.from(charts).every(chart => chart.querySelector('.main-svg'));
}}"""
QUIET_MS = 250

# Counts finished script runs (full or fragment) and remembers when the page last changed: a click has been
# handled when a new run finished and the app has been idle for QUIET_MS (a callback that calls st.rerun starts
# a second run right after the first).
# Runs are counted from the server's messages: every run ends with a ForwardMsg holding script_finished (field
# 6, a varint) next to its metadata. Its status is 0 (finished), 1 (compile error) or 3 (fragment run
# finished); 2 means "stopped early for a rerun" (another run follows). The scan reads the message's top-level
# protobuf fields only. (The page's script state attribute misses a fast run: React can apply "running" and
# "not running" in one render, so the attribute never changes; opening a page whose data is cached did that.)
# Every finished run and any change of the script state attribute mark the page as changed.
RUN_COUNTER_JS = """
if (window.__symbreakRuns === undefined) {
  window.__symbreakRuns = 0;
  window.__symbreakChanged = performance.now();
  const finishedStatus = data => {
    if (!(data instanceof ArrayBuffer)) return null;
    const bytes = new Uint8Array(data);
    let i = 0;
    const varint = () => {
      let value = 0, shift = 0, byte;
      do { byte = bytes[i++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80 && i < bytes.length);
      return value;
    };
    while (i < bytes.length) {
      const tag = varint(), field = Math.floor(tag / 8), wire = tag % 8;
      if (wire === 0) { const value = varint(); if (field === 6) return value; }
      else if (wire === 2) { const length = varint(); i += length; }
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else return null;
    }
    return null;
  };
  const Socket = window.WebSocket;
  window.WebSocket = function (...args) {
    const socket = new Socket(...args);
    socket.addEventListener('message', event => {
      const status = finishedStatus(event.data);
      if (status !== null && status !== 2) {
        window.__symbreakRuns += 1;
        window.__symbreakChanged = performance.now();
      }
    });
    return socket;
  };
  window.WebSocket.prototype = Socket.prototype;
  Object.setPrototypeOf(window.WebSocket, Socket);  // the constructor's constants (WebSocket.OPEN, …) still hold
  new MutationObserver(() => { window.__symbreakChanged = performance.now(); })
    .observe(document, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});
}
"""
RERUN_DONE_JS = """([before, quiet]) => {
  const app = document.querySelector("[data-testid='stApp']");
  return window.__symbreakRuns > before && app && app.getAttribute('data-test-script-state') === 'notRunning'
      && performance.now() - window.__symbreakChanged >= quiet;
}"""
# One hash per plotly chart (matching a CSS selector) of everything drawn in its SVG layers: it changes whenever
# the chart is redrawn with different data.
CHART_HASHES_JS = """(selector) => Array.from(document.querySelectorAll(selector), chart => {
  let h = 0;
  for (const svg of chart.querySelectorAll('.main-svg')) {
    const text = svg.innerHTML;
    for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) | 0;
  }
  return h;
})"""
CHARTS_CHANGED_JS = f"""([selector, before]) => {{
  const now = ({CHART_HASHES_JS})(selector);
  return now.length === before.length && now.every((h, i) => h !== before[i]);
}}"""
FIRST_CHART_CHANGED_JS = f"""([selector, before]) => {{
  const now = ({CHART_HASHES_JS})(selector);
  return now.length > 0 && now[0] !== before;
}}"""
# The step the Playground shows, from the line under its headline ('Step 1,234 · hidden layer 1 · …').
PLAYGROUND_STEP = re.compile(r"^Step ([\d,]+) ·")


def open_app(page, url: str) -> None:
    """Go to url and wait until the script has finished and every chart is drawn, with no exception shown."""
    page.add_init_script(RUN_COUNTER_JS)
    page.goto(url)
    page.wait_for_selector(APP_IDLE)
    wait_charts_drawn(page)
    assert_no_exception(page)


def wait_charts_drawn(page, timeout: float = 30_000) -> None:
    """Wait until there is a plotly chart and every one has drawn its SVG."""
    page.wait_for_function(ALL_CHARTS_DRAWN_JS, timeout=timeout)


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
        state = page.evaluate("""() => [window.__symbreakRuns,
            document.querySelector("[data-testid='stApp']")?.getAttribute('data-test-script-state'),
            Math.round(performance.now() - window.__symbreakChanged)]""")
        pytest.fail(f"no finished rerun within {timeout / 1000:.0f} s at {page.url}: {state[0]} runs "
                    f"({before} before), script state {state[1]!r}, last change {state[2]} ms ago")


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
