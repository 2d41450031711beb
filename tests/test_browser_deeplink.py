"""A deep link to a lesson, as the very first request of a fresh server, still gets the app's navigation."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browser_kit import nav

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


@pytest.mark.browser
def test_first_request_deep_link_runs_through_app_navigation(page, app_url: str, artifacts) -> None:
    page.goto(f"{app_url}/lesson_no_hidden")
    page.wait_for_selector(IDLE, timeout=60_000)
    links = nav(page)
    expect(links).to_contain_text("What breaks symmetry")
    expect(links).not_to_contain_text("lesson common")
    expect(page.get_by_role("heading", name="No hidden layer: a zero start is fine")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_text("Page not found")).to_have_count(0)  # the legacy pages/ mode is left before it asks
    page.screenshot(path=str(artifacts / "deep-link-fresh-server.png"))
