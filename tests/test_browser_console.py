"""The chart component in a browser: it never asks plotly to resize a chart that is not on screen, and it still
resizes the ones that are.

Leaving a page removed its charts from the document, and the component's
ResizeObserver then called plotly's resize on each of them: the browser
logged "Resize must be passed a displayed plot div element." once per chart on
every page change. This opens the Playground, switches its tabs, narrows the
window, and visits every lesson page and back, recording every uncaught error
and console error.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browser_kit import CHART, CHART_DRAWN, CHARTLESS_PAGES, click_and_wait, link_title, nav, open_app, wait_charts_drawn

pytestmark = pytest.mark.browser

NARROW = {"width": 1100, "height": 1000}


def _width(page, index: int = 0) -> float:
    """The drawn width of a chart's plot (its first SVG layer), in CSS pixels."""
    return page.evaluate(f"""(i) => Number(document.querySelectorAll("{CHART}")[i]
        .querySelector('.main-svg').getAttribute('width'))""", index)


def test_no_page_logs_a_resize_error_and_charts_follow_the_window(page, app_url):
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" else None)

    open_app(page, app_url)
    main = page.get_by_test_id("stMainBlockContainer")
    click_and_wait(page, main.get_by_role("button", name="Step 100", exact=True))
    for tab in ("Distances", "Weight space"):  # the closed tab's chart is hidden, not removed
        click_and_wait(page, main.get_by_role("tab", name=tab))
        wait_charts_drawn(page)
    wide = _width(page)
    page.set_viewport_size(NARROW)
    page.wait_for_function(f"""(wide) => Number(document.querySelector("{CHART} .main-svg")
        .getAttribute('width')) < wide""", arg=wide)

    links = nav(page).get_by_role("link")
    count = links.count()
    assert count >= 3, "the navigation lists the lessons"
    for index in [*range(1, count), 0]:  # every lesson, then back to the Playground
        if link_title(links.nth(index)) in CHARTLESS_PAGES:
            continue
        click_and_wait(page, links.nth(index), timeout=90_000)
        wait_charts_drawn(page, timeout=90_000)
        expect(page.locator(CHART_DRAWN).first).to_be_visible()
    page.wait_for_timeout(1000)  # a late callback of the observers of the charts just removed

    resize = [p for p in problems if "Resize" in p or "resize" in p]
    assert not resize, "the chart asked plotly to resize a chart off screen:\n" + "\n".join(resize[:10])
    assert not problems, "the pages logged errors:\n" + "\n".join(problems[:10])
