"""The house's rules, read from the source: imports run one way between symbreak's parts, no module imports itself
through others, no file is over 450 lines, and symbreak never imports streamlit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "symbreak"
# settings -> data -> engine -> lessons -> figures -> the top level (cli, export, playback); serving stands apart.
RANK = {"settings": 0, "data": 1, "engine": 2, "lessons": 3, "classroom": 3, "figures": 4}
# Top-level helpers that import nothing of symbreak, so any part may use them.
LEAVES = ("symbreak.export", "symbreak.playback")
MAX_LINES = 450


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part(module: str) -> str:
    """The subpackage a module of symbreak belongs to ('' for the top level)."""
    bits = module.split(".")
    return bits[1] if len(bits) > 2 or (len(bits) == 2 and (PACKAGE / bits[1]).is_dir()) else ""


def imports(path: Path) -> set[str]:
    """Every module this file imports, anywhere in it (function bodies too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: {m for m in imports(path) if m in MODULES and m != name} for name, path in MODULES.items()}


def test_the_parts_are_subpackages_each_saying_what_it_is_for() -> None:
    for name in ("settings", "data", "engine", "lessons", "classroom", "figures", "serving"):
        doc = ast.get_docstring(ast.parse((PACKAGE / name / "__init__.py").read_text()))
        assert doc and len(doc.split()) >= 10, f"symbreak/{name}/__init__.py says what the part is for"
    assert len([p for p in PACKAGE.glob("*.py")]) <= 6, "the top level keeps only cli, export, playback and the entry"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_one_way(name: str) -> None:
    mine = part(name)
    for target in GRAPH[name]:
        theirs = part(target)
        if target in ("symbreak", *LEAVES) or theirs == mine or mine == "":
            continue
        allowed = theirs == "serving" if mine == "serving" else theirs not in ("serving", "") and RANK[theirs] <= RANK[mine]
        assert allowed, f"{name} imports {target}: imports run settings -> data -> engine -> lessons -> figures"


def test_the_leaves_import_nothing_of_symbreak() -> None:
    for leaf in LEAVES:
        assert not GRAPH[leaf], f"{leaf} imports {GRAPH[leaf]}"


def test_no_circle_between_modules() -> None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in GRAPH[node]:
            if nxt == "symbreak":
                continue
            assert state.get(nxt) != 1, "import circle: " + " -> ".join(path + [node, nxt])
            if nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for name in MODULES:
        if name not in state:
            visit(name, [])


def test_symbreak_never_imports_streamlit_and_no_file_is_long() -> None:
    for name, path in MODULES.items():
        assert not any(m == "streamlit" or m.startswith("streamlit.") for m in imports(path)), name
    for path in [*PACKAGE.rglob("*.py"), *(ROOT / "pages").rglob("*.py"), ROOT / "app.py"]:
        assert len(path.read_text().splitlines()) <= MAX_LINES, f"{path.relative_to(ROOT)} is over {MAX_LINES} lines"
