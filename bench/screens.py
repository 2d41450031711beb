"""Screenshots of every page of the app's navigation, at a desktop and a phone size, to look at side by side.

Starts `streamlit run app.py` of this tree (and, with --against, of commit REV in a temporary git worktree)
and opens each page of its navigation (the Playground, Compare, every lesson) in a fresh headless Chromium
session at each size; once the script has finished and every chart has drawn its SVG, the whole page (the
window made as tall as the content) is saved as OUT/<page>_<width>_<rev>.png, <rev> being `here` for this
tree. The same page at the same width under two revs is the before/after pair.

    python bench/screens.py                              # this tree, into /tmp/screens
    python bench/screens.py --against REV                # this tree and commit REV
    python bench/screens.py --against REV --only-against --out /tmp/screens_before
    python bench/screens.py --sizes 1400                 # the desktop size only
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser_kit import (  # noqa: E402  (tests/ is put on the path just above)
    git_worktree, launch_chromium, nav_paths, open_app, streamlit_server, whole_page_screenshot,
)

# width -> (height, a phone: touch and the mobile viewport)
SIZES = {1400: (900, False), 390: (844, True)}
MAX_SHOT = 8000  # px: the tallest screenshot taken
PAGE_TIMEOUT_MS = 180_000  # a lesson that trains its experiment as it opens takes a while on a busy machine


def page_name(path: str) -> str:
    """The file-name stem of a page from its URL path: the last part, 'playground' for the root."""
    return path.strip("/").rsplit("/", 1)[-1] or "playground"


def shoot_tree(root: Path, rev: str, out: Path, widths: list[int]) -> list[Path]:
    """Every page of the app of the checkout at root, at each width; the files written."""
    from playwright.sync_api import sync_playwright

    written = []
    with tempfile.TemporaryDirectory() as tmp, streamlit_server(Path(tmp) / "streamlit.log", root=root) as url, \
            sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})  # wide: the sidebar is open
            page = context.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            open_app(page, url)
            paths = nav_paths(page)
            context.close()
            if not paths:
                raise SystemExit(f"{rev}: the app shows no navigation")
            for title, path in paths.items():
                for width in widths:
                    height, mobile = SIZES[width]
                    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=mobile,
                                                  has_touch=mobile)
                    try:
                        page = context.new_page()
                        page.set_default_timeout(PAGE_TIMEOUT_MS)
                        open_app(page, url + path)
                        target = out / f"{page_name(path)}_{width}_{rev}.png"
                        whole_page_screenshot(page, target, MAX_SHOT)
                        written.append(target)
                        print(f"{target}  ({title})", flush=True)
                    finally:
                        context.close()
        finally:
            browser.close()
    return written


def short_rev(rev: str) -> str:
    """REV as a short commit hash, for file names."""
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"not a commit: {rev!r} ({done.stderr.strip()})")
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="also commit REV, from a temporary git worktree")
    parser.add_argument("--only-against", action="store_true", help="only commit REV, not this tree")
    parser.add_argument("--out", type=Path, default=Path("/tmp/screens"), help="where the PNGs go")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help=f"widths to take, of {', '.join(map(str, SIZES))} (default: both)")
    args = parser.parse_args()
    try:
        widths = [int(w) for w in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes takes widths separated by commas, not {args.sizes!r}")
    if unknown := [w for w in widths if w not in SIZES]:
        parser.error(f"no size of width {unknown[0]}: the widths are {', '.join(map(str, SIZES))}")
    if args.only_against and not args.against:
        parser.error("--only-against needs --against REV")
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    if not args.only_against:
        written += shoot_tree(ROOT, "here", args.out, widths)
    if args.against:
        rev = short_rev(args.against)
        with git_worktree(rev, parent="/tmp") as tree:
            written += shoot_tree(tree, rev, args.out, widths)
    print(f"{len(written)} screenshots in {args.out}")


if __name__ == "__main__":
    main()
