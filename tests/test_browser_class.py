"""A class in real browsers: the teacher starts it at projector size, a student on a phone joins by typing the code,
steps, and appears on the board; the teacher sends a start and the student takes it. Screenshots are saved."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from browser_kit import APP_IDLE, assert_no_exception, open_app, playground_step, streamlit_server, \
    whole_page_screenshot

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def class_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app with its own SQLite class store."""
    folder = tmp_path_factory.mktemp("class")
    old = os.environ.get("SYMBREAK_STORE")
    os.environ["SYMBREAK_STORE"] = str(folder / "classes.sqlite3")
    try:
        with streamlit_server(folder / "streamlit.log") as url:
            yield url
    finally:
        if old is None:
            os.environ.pop("SYMBREAK_STORE", None)
        else:
            os.environ["SYMBREAK_STORE"] = old


def main_block(page):
    return page.get_by_test_id("stMainBlockContainer")


def choose(page, chooser, option: str) -> None:
    """Pick `option` in a select box as a teacher at a keyboard does: type it, then the arrow and Enter on the one
    option left; on a loaded machine the list may close before it shows, so the whole choice is tried again until
    the field holds it."""
    for _ in range(4):
        chooser.click()
        chooser.fill(option)
        try:
            page.get_by_role("option", name=option).wait_for(timeout=5_000)
            chooser.press("ArrowDown")
            chooser.press("Enter")
            expect(page.get_by_role("option")).to_have_count(0)  # the list closed on the choice
        except (PlaywrightTimeout, AssertionError):
            chooser.press("Escape")
            continue
        chooser.blur()
        if chooser.input_value() == option:
            return
    expect(chooser).to_have_value(option)  # the field shows the choice, not only the typed text


def test_a_teacher_and_a_phone_student_run_a_class(browser, class_url: str, artifacts) -> None:
    teacher_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    student_context = browser.new_context(**PHONE)
    try:
        teacher, student = teacher_context.new_page(), student_context.new_page()
        for tab in (teacher, student):
            tab.set_default_timeout(30_000)
        teacher.goto(f"{class_url}/teach")
        teacher.wait_for_selector(APP_IDLE)
        main_block(teacher).get_by_role("button", name="Start a class").click()
        code = teacher.locator(".class-code").inner_text(timeout=30_000).strip()
        assert re.fullmatch(r"[A-HJ-NP-Z2-9]{6}", code), code
        assert "key=" in teacher.url
        main_block(teacher).get_by_test_id("stImage").locator("img").first.wait_for()  # the QR code
        whole_page_screenshot(teacher, artifacts / "class-teacher-new.png")

        open_app(student, class_url)
        student.get_by_test_id("stExpandSidebarButton").click()
        sidebar = student.get_by_test_id("stSidebar")
        sidebar.get_by_text("Join a class").click()
        sidebar.get_by_role("textbox", name="Class code").fill(code.lower())
        name = sidebar.get_by_role("textbox", name="Your name on the board")
        name.fill("Ada <b>*L*</b>")
        name.press("Enter")
        sidebar.get_by_role("button", name="Join the class").click()
        banner = main_block(student).get_by_text(f"In class {code} as")
        banner.wait_for()
        assert "Ada <b>*L*</b>" in banner.inner_text(), banner.inner_text()
        if student.get_by_test_id("stSidebarCollapseButton").is_visible():
            student.get_by_test_id("stSidebarCollapseButton").click()
        main_block(student).get_by_role("button", name="Step 100").tap()
        student.wait_for_function("() => /^Step 100 ·/m.test(document.body.innerText)")
        assert playground_step(student) == 100

        table = main_block(teacher).get_by_test_id("stDataFrame")
        joined = main_block(teacher).get_by_test_id("stMetric").filter(has_text="Joined")
        expect(joined.get_by_test_id("stMetricValue")).to_have_text("1", timeout=20_000)
        table.wait_for()
        whole_page_screenshot(teacher, artifacts / "class-teacher-board.png")
        whole_page_screenshot(student, artifacts / "class-student-phone.png")

        main_block(teacher).locator("summary").filter(has_text="Send a start to everyone").click()
        chooser = main_block(teacher).get_by_role("combobox", name="Start")
        choose(teacher, chooser, "constant-dropout")
        main_block(teacher).get_by_role("button", name="Send to the class").click()
        use = main_block(student).get_by_role("button", name="Use it")
        use.wait_for(timeout=20_000)
        assert "constant-dropout" in main_block(student).inner_text()
        use.tap()
        expect(use).to_be_hidden(timeout=20_000)
        expect(main_block(student).get_by_text(re.compile(r"^Step 0 ·")).first).to_be_visible(timeout=20_000)
        assert "dropout 0.2" in main_block(student).inner_text()
        assert_no_exception(student)
        assert_no_exception(teacher)
        whole_page_screenshot(student, artifacts / "class-student-took-start.png")
    finally:
        teacher_context.close()
        student_context.close()
