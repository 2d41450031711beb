"""What makes every page usable by keyboard and screen reader where Streamlit's own markup falls short.

Streamlit's sidebar navigation puts its `<li>` items in `<div>`s inside the
`<ul>` (axe: list, listitem; WCAG 1.3.1), so app.py hides it and `navigation`
draws plain page links instead. `styles` darkens the greys that miss 4.5:1 and
draws a focus ring. See README.md, "Accessibility".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import streamlit as st
from streamlit.navigation.page import StreamlitPage

NAV_KEY = "nav"  # the sidebar's box of page links (class `st-key-nav`): tests/browser_kit.py reads it
CSS = (Path(__file__).with_name("access.css")).read_text(encoding="utf-8")


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
