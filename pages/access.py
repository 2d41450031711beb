"""What makes every page usable by keyboard and screen reader where Streamlit's own markup falls short.

Streamlit's sidebar navigation puts its `<li>` items in `<div>`s inside the
`<ul>` (axe: list, listitem; WCAG 1.3.1), so app.py hides it and `navigation`
draws plain page links instead. `styles` darkens the greys that miss 4.5:1 and
draws a focus ring. `shortcuts` gives a page's buttons keys (access.js) and
`shortcuts_help` lists them. See README.md, "Accessibility".
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage

NAV_KEY = "nav"  # the sidebar's box of page links (class `st-key-nav`): tests/browser_kit.py reads it
HERE = Path(__file__).parent
CSS = (HERE / "access.css").read_text(encoding="utf-8")
KEYS_JS = (HERE / "access.js").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Shortcut:
    """A key (or several) that clicks a button: the Streamlit key of the button's widget, and what it does."""

    keys: tuple[str, ...]
    label: str
    widget: str
    cycle: bool = False  # a segmented control: the key picks the option after the selected one


def _selector(widget: str) -> str:
    """The CSS selector of the buttons of a widget with this Streamlit key (its box has class `st-key-<key>`)."""
    return f".st-key-{re.sub(r'[^A-Za-z0-9_-]', '-', widget)} button"


def _key_name(key: str) -> str:
    return "Space" if key == "space" else key.upper()


def styles() -> None:
    """The app-wide contrast fixes, focus ring and screen-reader-only class (access.css)."""
    st.html(f"<style>{CSS}</style>")


def navigation(sections: Mapping[str, Sequence[StreamlitPage]]) -> None:
    """A link to every page at the top of the sidebar, under its section's name (left out for a section that is
    one page of the same name). The current page's link is marked by Streamlit as the active one."""
    with st.sidebar.container(key=NAV_KEY, gap="small"):
        for name, pages in sections.items():
            if not (len(pages) == 1 and pages[0].title == name):
                st.caption(f"**{name}**")
            for page in pages:
                st.page_link(page, label=page.title, icon=page.icon or None, width="stretch")
        st.divider()


def shortcuts(bindings: Sequence[Shortcut]) -> None:
    """Install the page's keyboard shortcuts (access.js): each clicks its button, never while typing in a field."""
    rows = [{"keys": list(b.keys), "label": b.label, "selector": _selector(b.widget), "cycle": b.cycle}
            for b in bindings]
    # The script is the file as it is (its hash is in the Content-Security-Policy); the bindings travel beside it.
    st.html(f"<div id='symbreak-keys' hidden data-bindings='{html.escape(json.dumps(rows), quote=True)}'></div>"
            f"<script>{KEYS_JS}</script>", unsafe_allow_javascript=True)


def shortcuts_help(bindings: Sequence[Shortcut]) -> None:
    """A "Keyboard shortcuts" popover listing the page's keys."""
    with st.popover("Keyboard shortcuts", icon=":material/keyboard:", help="Keys that press this page's buttons."):
        lines = [f"| {' or '.join(_key_name(k) for k in b.keys)} | {b.label} |" for b in bindings]
        st.markdown("\n".join(["| Key | Does |", "| --- | --- |", *lines]))
        st.caption("They work whenever no field has the focus.")
