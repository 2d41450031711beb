"""The teaching guide, followed as written in real browsers: a teacher at projector size and two students (one on
a phone) join, take a constant start, step and stay tied; vote on a lesson's question in two rounds; see the answer
revealed; then take the dropout start and split. Screenshots of the teacher's view before and after the reveal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from browser_kit import APP_IDLE, open_app, whole_page_screenshot
from test_browser_class import PHONE, class_url, main_block  # noqa: F401  (the app with its own class store)

pytestmark = pytest.mark.browser
GUIDE = Path(__file__).resolve().parent.parent / "pages" / "teaching_guide.md"


def pick(page, label: str, option: str) -> None:
    """Choose an option of a select box, as a teacher does."""
    chooser = main_block(page).get_by_role("combobox", name=label)
    if chooser.input_value() == option:
        return
    chooser.click()
    chooser.fill(option)
    page.get_by_role("option", name=option, exact=True).click()
    expect(chooser).to_have_value(option)


def press(page, name: str) -> None:
    main_block(page).get_by_role("button", name=name, exact=True).click()


def test_the_teaching_guide_works_as_written(browser, class_url: str, artifacts) -> None:  # noqa: F811
    guide = " ".join(GUIDE.read_text().split())
    for words in ("Start a class", "Send a start to everyone", "Apply it at once", "Send to the class", "Step 100",
                  "Everyone to this lesson", "The class vote", "Close the vote", "Vote again", "Reveal the answer",
                  "Use it", "The runs", "Pause the class", "Open in my Playground", "Board as CSV", "End the class"):
        assert words in guide, f"the guide no longer names {words!r}"
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}),
                browser.new_context(**PHONE), browser.new_context(viewport={"width": 1200, "height": 900})]
    try:
        teacher, phone, laptop = (c.new_page() for c in contexts)
        for tab in (teacher, phone, laptop):
            tab.set_default_timeout(30_000)
        teacher.goto(f"{class_url}/teach")
        teacher.wait_for_selector(APP_IDLE)
        press(teacher, "Start a class")
        code = teacher.locator(".class-code").inner_text().strip()

        students = (phone, laptop)
        for tab in students:  # the join link, with the suggested name
            open_app(tab, f"{class_url}/?class={code}")
            main_block(tab).get_by_role("button", name="Join the class").click()
            main_block(tab).get_by_text(f"In class {code} as").wait_for()
        joined = main_block(teacher).get_by_test_id("stMetric").filter(has_text="Joined")
        expect(joined.get_by_test_id("stMetricValue")).to_have_text("2", timeout=20_000)

        # 5-15 min: the constant start, applied at once; everyone steps and stays tied.
        main_block(teacher).locator("summary").filter(has_text="Send a start to everyone").click()
        pick(teacher, "Start", "constant")
        main_block(teacher).get_by_test_id("stCheckbox").filter(has_text="Apply it at once").click()
        press(teacher, "Send to the class")
        for tab in students:
            tab.wait_for_timeout(3000)
            main_block(tab).get_by_role("button", name="Step 100").tap() if tab is phone else \
                press(tab, "Step 100")
            expect(main_block(tab).get_by_text(re.compile(r"^Step 100 ·")).first).to_be_visible()
        tied = main_block(teacher).get_by_test_id("stMetric").filter(has_text="Tied")
        expect(tied.get_by_test_id("stMetricValue")).to_have_text("2", timeout=20_000)

        # 15-25 min: everyone to the lesson, a vote in two rounds, the reveal.
        pick(teacher, "Lesson", "Why a tie wastes the network")
        press(teacher, "Everyone to this lesson")
        for tab, answer in ((phone, "as well as one neuron"), (laptop, "as well as the random layer")):
            main_block(tab).get_by_text("Class vote:").wait_for(timeout=20_000)
            main_block(tab).get_by_text(answer, exact=True).click()
            main_block(tab).get_by_text(f"Your answer: {answer}").wait_for()
        main_block(teacher).get_by_test_id("stButtonGroup").get_by_text("The class vote", exact=True).click()
        expect(main_block(teacher).get_by_text("2 of 2 answered")).to_be_visible(timeout=20_000)
        press(teacher, "Close the vote")
        main_block(phone).get_by_text("Voting is closed").wait_for(timeout=20_000)
        press(teacher, "Vote again")
        main_block(laptop).get_by_text("Class vote, round 2").wait_for(timeout=20_000)
        main_block(laptop).get_by_text("as well as one neuron", exact=True).click()
        expect(main_block(teacher).get_by_text("1 of 2 answered in round 2")).to_be_visible(timeout=20_000)
        whole_page_screenshot(teacher, artifacts / "guide-teacher-before-reveal.png")
        press(teacher, "Reveal the answer")
        for tab in students:
            main_block(tab).get_by_text("On the test set:").wait_for(timeout=30_000)
        expect(main_block(teacher).get_by_text(re.compile(r"^Right: round 1: \d of 2"))).to_be_visible(timeout=30_000)
        whole_page_screenshot(teacher, artifacts / "guide-teacher-after-reveal.png")
        whole_page_screenshot(phone, artifacts / "guide-phone-after-reveal.png")

        # 25-35 min: the dropout start, offered; a student takes it, steps, and the board counts a split.
        pick(teacher, "Start", "constant-dropout")
        main_block(teacher).get_by_test_id("stCheckbox").filter(has_text="Apply it at once").click()  # off again
        press(teacher, "Send to the class")
        use = main_block(laptop).get_by_role("button", name="Use it")
        use.click()
        expect(use).to_be_hidden(timeout=20_000)
        press(laptop, "Step 100")
        main_block(teacher).get_by_test_id("stButtonGroup").get_by_text("The runs", exact=True).click()
        split = main_block(teacher).get_by_test_id("stMetric").filter(has_text="Split")
        expect(split.get_by_test_id("stMetricValue")).to_have_text("1", timeout=20_000)
        whole_page_screenshot(teacher, artifacts / "guide-teacher-board-split.png")
        press(teacher, "End the class")
        main_block(teacher).get_by_role("button", name="Start a class").wait_for()
    finally:
        for context in contexts:
            context.close()
