"""Every page of app.py's navigation leaves Streamlit's legacy pages/ mode before it draws anything, and importing
the pages' helpers (app.py imports them on every run) changes nothing.

tests/test_browser_deeplink.py checks the same end to end: a deep link as a fresh server's first request.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.runtime.pages_manager import PagesManager

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the pages import `pages.chrome`, as they do under `streamlit run app.py`
    sys.path.insert(0, str(ROOT))

from pages import chrome  # noqa: E402

ROUTE = "chrome.route_through_app()"


def navigation_pages() -> list[str]:
    """The page files app.py hands to st.navigation: those it names under pages/, and the lessons' list."""
    from pages.lessons import LESSONS

    tree = ast.parse((ROOT / "app.py").read_text())
    named = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
             and isinstance(node.value, str) and node.value.startswith("pages/") and node.value.endswith(".py")}
    return sorted(named | {path for path, _, _ in LESSONS})


def test_the_navigation_holds_the_playground_and_the_lessons():
    pages = navigation_pages()
    assert "pages/playground.py" in pages and "pages/compare.py" in pages and len(pages) >= 8


@pytest.mark.parametrize("path", navigation_pages())
def test_a_page_routes_through_app_before_anything_else(path: str):
    body = [node for node in ast.parse((ROOT / path).read_text()).body
            if not isinstance(node, (ast.Import, ast.ImportFrom))
            and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]  # the docstring
    assert body and ast.unparse(body[0]) == ROUTE, f"{path}: its first statement after the imports is not {ROUTE}"


def test_route_through_app_leaves_legacy_mode_once_and_reruns(monkeypatch: pytest.MonkeyPatch):
    reruns = []
    monkeypatch.setattr(chrome.st, "rerun", lambda: reruns.append(True))
    monkeypatch.setattr(PagesManager, "uses_pages_directory", True)
    chrome.route_through_app()
    assert PagesManager.uses_pages_directory is False and reruns == [True]
    chrome.route_through_app()
    assert reruns == [True], "once out of legacy mode, a page runs on"


def test_importing_the_page_helpers_does_not_touch_the_routing():
    code = ("from streamlit.runtime.pages_manager import PagesManager as P\n"
            "P.uses_pages_directory = True\n"
            "import pages.chrome, pages.links, pages.session, pages.sidebar\n"
            "assert P.uses_pages_directory is True\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
