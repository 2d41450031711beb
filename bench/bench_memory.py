"""Does the server give its memory back? 50 browser sessions open and close, 10 of them upload a 4 MB CSV.

Starts its own `streamlit run app.py` with a short `server.disconnectedSessionTTL`
(TTL seconds instead of the default 120, so the bench takes minutes, not hours)
and the MALLOC_ARENA_MAX every served app gets (`symbreak serve`, the image), then, one at a time, opens a Playground session in headless Chromium, waits for
its charts, makes a step, uploads one of ten different 4 MB CSVs in every
fifth session, and closes the tab. It prints the server's RSS (from /proc):
idle, after one warm-up session that uploads a small CSV (the page modules,
torch, plotly and what pandas loads on a first CSV are in memory: the
baseline), at the peak, and every 30 s for WAIT_SECONDS after the last
session closed. The target: back within TARGET_MB of the baseline.

    python bench/bench_memory.py [--sessions 50] [--uploads 10] [--wait 180] [--root DIR] [--log FILE]

--root runs the app of another checkout (an earlier commit, to compare).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from browser_kit import (  # noqa: E402  (tests/ is put on the path just above)
    free_port,
    launch_chromium,
    open_app,
    runs,
    upload_csv,
    wait_for_health,
    wait_rerun,
)

from symbreak.serving.serve import MALLOC_ARENA_MAX  # noqa: E402

TTL = 20
SESSIONS = 50
UPLOADS = 10
WAIT_SECONDS = 180
SAMPLE_SECONDS = 30
TARGET_MB = 50
CSV_BYTES = 4 * 2**20


def rss_mb(pid: int) -> float:
    """The resident set of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def write_csv(path: Path, seed: int, rows: int = CSV_BYTES // 60) -> Path:
    """A CSV of four features and a 0/1 target (by default about CSV_BYTES), different for every seed."""
    rng = np.random.default_rng(seed + 1)
    x = rng.normal(size=(rows, 4))
    y = (x[:, 0] * x[:, 1] > 0).astype(int)
    lines = ["a,b,c,d,label"] + [f"{r[0]:.9f},{r[1]:.9f},{r[2]:.9f},{r[3]:.9f},{t}" for r, t in zip(x, y)]
    path.write_text("\n".join(lines) + "\n")
    return path


def one_session(browser, url: str, csv: Path | None) -> None:
    """Open the Playground, train ten steps, upload csv if given, close the tab."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        open_app(page, url)
        main = page.get_by_test_id("stMainBlockContainer")
        before = runs(page)
        main.get_by_role("button", name="Step 1", exact=True).click()
        wait_rerun(page, before)
        if csv is not None:
            upload_csv(page, csv, timeout=120_000)
            if page.get_by_test_id("stAlertContentError").count():
                raise RuntimeError(page.get_by_test_id("stAlertContentError").first.inner_text())
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    parser.add_argument("--uploads", type=int, default=UPLOADS)
    parser.add_argument("--wait", type=float, default=WAIT_SECONDS)
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--log", type=Path, help="keep the server's log here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    every = max(1, args.sessions // max(args.uploads, 1))
    with tempfile.TemporaryDirectory() as tmp:
        csvs = [write_csv(Path(tmp) / f"upload-{i}.csv", i) for i in range(args.uploads)]
        port = free_port()
        log = args.log or Path(tmp) / "streamlit.log"
        with log.open("w") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true",
                 f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
                 f"--server.disconnectedSessionTTL={TTL}"],
                cwd=args.root, env={**os.environ, "MALLOC_ARENA_MAX": MALLOC_ARENA_MAX}, stdout=out,
                stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_health(url, server, 90, log)
            time.sleep(2)
            idle = rss_mb(server.pid)
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                one_session(browser, url, write_csv(Path(tmp) / "warm-up.csv", -1, rows=200))
                time.sleep(TTL + 15)
                baseline = rss_mb(server.pid)
                print(f"RSS idle server            {idle:8.1f} MB")
                print(f"RSS after 1 warm-up session {baseline:7.1f} MB  (the baseline)", flush=True)
                peak, uploads, started = baseline, 0, time.monotonic()
                for i in range(args.sessions):
                    csv = csvs[uploads] if uploads < len(csvs) and i % every == every - 1 else None
                    uploads += csv is not None
                    one_session(browser, url, csv)
                    peak = max(peak, rss_mb(server.pid))
                browser.close()
            print(f"{args.sessions} sessions ({uploads} uploading a {CSV_BYTES / 2**20:.0f} MB CSV) in "
                  f"{time.monotonic() - started:.0f} s; peak RSS {peak:.1f} MB "
                  f"(+{peak - baseline:.1f} MB)", flush=True)
            closed = time.monotonic()
            final = peak
            while (waited := time.monotonic() - closed) < args.wait:
                time.sleep(min(SAMPLE_SECONDS, args.wait - waited))
                final = rss_mb(server.pid)
                print(f"  {time.monotonic() - closed:5.0f} s after the last session closed: {final:8.1f} MB "
                      f"(+{final - baseline:.1f} MB)", flush=True)
            verdict = "within" if final - baseline <= TARGET_MB else "NOT within"
            print(f"RSS {args.wait:.0f} s after the last session closed: {final:.1f} MB, {final - baseline:+.1f} MB "
                  f"from the baseline: {verdict} the {TARGET_MB} MB target (TTL {TTL} s)")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
