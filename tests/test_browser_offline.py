"""Offline and private: a tour of every page asks nothing of any host but the app's own server, and logs no error.

A classroom may have no internet, and a school may not allow a page that calls
third parties. Every request the browser makes while it opens each page of the
navigation and presses its main control is recorded; none may leave the
server's origin. The console must stay free of errors (and of warnings from the
chart component).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from browser_kit import CHART_DRAWN, CHARTLESS_PAGES, click_and_wait, link_title, nav, open_app, wait_charts_drawn

pytestmark = pytest.mark.browser

# Chromium's own chatter in a headless tab, not the page's.
BROWSER_NOISE = re.compile(r"Failed to load resource: net::ERR_BLOCKED_BY_CLIENT|favicon\.ico")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_a_tour_of_every_page_stays_on_the_server_and_logs_no_error(page, app_url):
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url} {request.failure}"))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type in ("error", "warning") and not BROWSER_NOISE.search(message.text) else None)

    open_app(page, app_url)
    links = nav(page).get_by_role("link")
    titles = [link_title(links.nth(i)) for i in range(links.count())]
    titles = [t for t in titles if t not in CHARTLESS_PAGES]
    assert len(titles) >= 2, f"the navigation lists the lessons too (got {titles})"
    main = page.get_by_test_id("stMainBlockContainer")
    click_and_wait(page, main.get_by_role("button", name="Step 100", exact=True))
    for title in titles[1:]:
        click_and_wait(page, nav(page).get_by_role("link", name=title, exact=True),
                       timeout=60_000)
        wait_charts_drawn(page)
        expect(page.locator(CHART_DRAWN).first).to_be_visible()
    page.wait_for_timeout(1000)  # late requests: fonts, icons, the favicon

    home = _origin(app_url)
    outside = sorted({url for url in requests if not url.startswith(("data:", "blob:", "about:"))
                      and _origin(url) != home})
    assert not outside, f"the pages asked hosts other than the app's server: {outside}"
    assert not problems, "the pages logged errors:\n" + "\n".join(problems[:20])
