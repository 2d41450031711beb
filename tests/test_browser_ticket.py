"""The lottery-ticket lesson in headless Chromium, on a projector (1400 px, `?present=1`) and a phone (390 px,
touch): it asks first, answers with its charts drawn, and "Open the ticket in the Playground" opens a Playground
that says how many weights its mask prunes and draws them as pruned, also after training. Screenshots of each
state go to artifacts/lesson_ticket-<device>-*.png."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from browser_kit import assert_no_exception, click_and_wait, open_app, wait_charts_drawn, whole_page_screenshot
from playwright.sync_api import expect

from symbreak.lessons import ticket

pytestmark = pytest.mark.browser

# name -> (viewport, a phone: touch and the mobile viewport, the address's query)
DEVICES = {"projector-1400": ({"width": 1400, "height": 1000}, False, "?present=1"),
           "phone-390": ({"width": 390, "height": 844}, True, "")}
TRAINING_MS = 240_000  # the first visit trains every network of the lesson, once per server
PLOTLY_DRAWN = ".js-plotly-plot .main-svg"
WEIGHTS = 3 * ticket.TICKET_WIDTH  # 2 inputs and 1 output around the hidden layer
SIDEWAYS_JS = """() => Math.max(...[document.documentElement, document.querySelector("[data-testid='stMain']")]
  .filter(Boolean).map(e => e.scrollWidth - e.clientWidth))"""


def pruned_in(href: str) -> int:
    """The weights the mask in a Playground link's address prunes, counted from its JSON."""
    [mask] = parse_qs(urlsplit(href).query)["mask"]
    return sum(v == 0 for layer in json.loads(mask)["layers"] for row in layer["weight"] for v in row)


@pytest.mark.parametrize("device", list(DEVICES))
def test_the_ticket_opens_in_the_playground_with_its_pruned_weights(browser, app_url, artifacts, device):
    viewport, mobile, query = DEVICES[device]
    context = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile)
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    shot = f"lesson_ticket-{device}"
    try:
        open_app(tab, app_url)  # the app's navigation first, as a class arrives
        open_app(tab, f"{app_url}/lesson_ticket{query}")
        main = tab.get_by_test_id("stMainBlockContainer")
        expect(main.get_by_role("heading", name=re.compile(r"better, the same or worse"))).to_be_visible()
        whole_page_screenshot(tab, artifacts / f"{shot}-question.png", max_height=5000)
        click_and_wait(tab, main.get_by_role("button", name="Show me"), timeout=TRAINING_MS)
        wait_charts_drawn(tab, timeout=60_000)
        expect(main.locator(PLOTLY_DRAWN).first).to_be_visible()
        assert main.locator(".js-plotly-plot").count() == 2  # accuracy against weights left, and the ticket
        expect(main.get_by_text(re.compile(r"^The run says: ")).first).to_be_visible()
        assert tab.evaluate(SIDEWAYS_JS) <= 0, f"the lesson scrolls sideways at {device}"
        whole_page_screenshot(tab, artifacts / f"{shot}-answer.png", max_height=5000)

        link = main.get_by_role("link", name="Open the ticket in the Playground")
        expect(main.get_by_role("link", name="The same mask from a fresh random start")).to_be_visible()
        cut = pruned_in(link.get_attribute("href"))
        assert 0 < cut < WEIGHTS
        link.scroll_into_view_if_needed()
        click_and_wait(tab, link, timeout=60_000)
        wait_charts_drawn(tab, timeout=60_000)
        assert_no_exception(tab)
        main = tab.get_by_test_id("stMainBlockContainer")
        expect(main.get_by_text(f"{cut} of {WEIGHTS} weights pruned")).to_be_visible()
        expect(main.locator(PLOTLY_DRAWN).first).to_be_visible()
        expect(main.locator(".legendtext", has_text="pruned (masked to 0)").first).to_be_attached()
        assert urlsplit(tab.url).path.strip("/") in ("", "playground")
        whole_page_screenshot(tab, artifacts / f"{shot}-playground.png", max_height=5000)

        click_and_wait(tab, main.get_by_role("button", name="Step 100"), timeout=60_000)
        wait_charts_drawn(tab, timeout=60_000)
        expect(main.get_by_text(f"{cut} of {WEIGHTS} weights pruned")).to_be_visible()
        assert tab.evaluate(SIDEWAYS_JS) <= 0, f"the Playground scrolls sideways at {device}"
        whole_page_screenshot(tab, artifacts / f"{shot}-playground-step100.png", max_height=5000)
    finally:
        context.close()
