"""Hostile links in headless Chromium: a crafted link draws no link or image of its own, a 100,000-character
value costs the page no more than a plain link, and 'Start fresh' leaves a bad link in one click.

One Streamlit server for the module (tests/conftest.py). Screenshots go to artifacts/.
"""

from __future__ import annotations

import re
import statistics
import time
from urllib.parse import quote, urlsplit

import pandas as pd
import pytest
from playwright.sync_api import expect

from browser_kit import APP_IDLE, click_and_wait, open_app, runs, upload_csv, wait_charts_drawn, wait_rerun
from pages.chrome import WORD_JOINER

pytestmark = pytest.mark.browser

EVIL = "evil.example"  # no request may go to this host
LINK = f"[Session expired: log in again](https://{EVIL}/login)"
IMAGE = f"![x](http://{EVIL}/pixel.png)"
HTML = f"<img src=http://{EVIL}/onerror.png onerror=alert(1)>"
AUTOLINK = f"https://{EVIL}/auto www.{EVIL}"
LONG_CHARS = 100_000
# A long value is refused unread: its page is ready in about the time of a plain one (it took 67 s of browser
# CPU when the value was echoed into a message). Compared, not timed: the machine is shared.
MAX_LONG_OVER_PLAIN = 2.0
LOADS = 3
NUMBER = re.compile(r"-(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|-inf|-nan")


def link(app_url: str, **params: str) -> str:
    return f"{app_url}/?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


def main_block(page):
    return page.get_by_test_id("stMainBlockContainer")


def links(area) -> list[str]:
    """The links drawn in an area, but for the app's own anchors on its headings."""
    return area.locator("a:not([aria-label='Link to heading'])").evaluate_all("els => els.map(e => e.outerHTML)")


def watch_requests(page) -> list[str]:
    """Every URL the page asks for to the attacker's host, as they come."""
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url)
            if (urlsplit(request.url).hostname or "").endswith(EVIL) else None)
    return asked


def test_a_crafted_link_shows_its_markdown_and_html_as_text(page, app_url: str, artifacts):
    asked = watch_requests(page)
    open_app(page, link(app_url, lr=LINK, init=IMAGE, dataset=HTML, activation=AUTOLINK))
    boxes = main_block(page).get_by_test_id("stAlert")
    expect(boxes).to_have_count(4)
    page.screenshot(path=str(artifacts / "hostile-link.png"))
    text = " ".join(boxes.all_inner_texts()).replace(WORD_JOINER, "")
    for value in (LINK, IMAGE, HTML, AUTOLINK):
        assert value[:55] in text, f"{value!r} is quoted as typed: {text[:800]}"
    main = main_block(page)
    assert not links(main)
    assert main.locator("img").count() == 0, main.locator("img").evaluate_all("els => els.map(e => e.outerHTML)")
    assert boxes.locator("strong, em, code, h1, h2, h3").count() == 0
    assert not asked, f"the page fetched {asked}"
    assert urlsplit(page.url).query == "", "the bad settings are gone from the address"


def test_an_uploaded_file_name_shows_as_text(page, app_url: str, artifacts, tmp_path):
    name = tmp_path / "[Session expired](#login) ![x](#pixel) _x_.csv"
    name.write_text("a,b,label\n" + "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(60)))
    open_app(page, app_url)
    upload_csv(page, name)
    main = main_block(page)
    expect(main.get_by_text("[Session expired](#login) ![x](#pixel) _x_.csv", exact=False).first).to_be_visible()
    page.screenshot(path=str(artifacts / "hostile-upload-name.png"))
    assert not links(main)
    assert main.locator("img").count() == 0 and main.locator("em").count() == 0


def load_seconds(page, url: str) -> float:
    """From navigation to every chart drawn, with the app idle."""
    start = time.monotonic()
    page.goto(url)
    page.wait_for_selector(APP_IDLE)
    wait_charts_drawn(page)
    return time.monotonic() - start


def test_a_100000_character_value_costs_no_more_than_a_plain_link(page, app_url: str):
    open_app(page, app_url)  # the server has the default run's data
    plain, long = [], []
    for _ in range(LOADS):  # in turns, so a busy minute weighs on both
        plain.append(load_seconds(page, link(app_url, lr="0.5")))
        long.append(load_seconds(page, link(app_url, dataset="x" * LONG_CHARS, lr="0.5")))
        expect(main_block(page).get_by_text(f"dataset ignored: {LONG_CHARS:,} characters").first).to_be_visible()
    ratio = statistics.median(long) / statistics.median(plain)
    print(f"load: plain link {statistics.median(plain):.2f} s, {LONG_CHARS:,}-character value "
          f"{statistics.median(long):.2f} s (x{ratio:.2f})")
    assert ratio < MAX_LONG_OVER_PLAIN, (plain, long)
    assert len(page.url) < 1000, "the long value is gone from the address"


def test_start_fresh_clears_the_link_and_starts_the_default_run(page, app_url: str, artifacts):
    open_app(page, link(app_url, lr=LINK, dropout="0.2", hidden="[" * 3000))
    main = main_block(page)
    expect(main.get_by_test_id("stAlert")).to_have_count(2)
    assert "dropout=0.2" in page.url
    click_and_wait(page, main.get_by_role("button", name="Start fresh"))
    wait_charts_drawn(page)
    page.screenshot(path=str(artifacts / "hostile-start-fresh.png"))
    expect(main.get_by_test_id("stAlert")).to_have_count(0)
    expect(main.get_by_role("button", name="Start fresh")).to_have_count(0)
    assert urlsplit(page.url).query == ""
    expect(main.get_by_text("every weight 0.5, no dropout").first).to_be_visible()
    page.reload()
    page.wait_for_selector(APP_IDLE)
    wait_charts_drawn(page)
    expect(main.get_by_test_id("stAlert")).to_have_count(0)


def test_the_history_download_neutralises_formula_cells(page, app_url: str, tmp_path):
    formula = "=cmd|' /C calc'!A0"
    data = tmp_path / "formula.csv"
    data.write_text(f"{formula},@SUM(A1),label\n" + "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(60)))
    open_app(page, app_url)
    upload_csv(page, data)
    click_and_wait(page, main_block(page).get_by_role("button", name="Step 1", exact=True))
    click_and_wait(page, page.get_by_text("Download", exact=True))
    with page.expect_download() as download:
        page.get_by_role("button", name="History (CSV)").click()
    saved = tmp_path / "history.csv"
    download.value.save_as(saved)
    frame = pd.read_csv(saved, dtype=str, keep_default_na=False)
    cells = set(frame.columns) | set(frame.to_numpy().ravel())
    assert not [c for c in cells if c.startswith(("=", "@", "+", "\t", "\r")) or
                (c.startswith("-") and not NUMBER.fullmatch(c))], "a cell a spreadsheet would run"
    assert any(c.startswith("'" + formula) or c == "'" + formula for c in cells), sorted(cells)[:20]
    assert len(frame) >= 2, "the history holds step 0 and step 1"
