"""Streamlit helpers shared by the lesson pages (import as `from pages import lesson_common as lc`)."""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from pages import common as cm
from symbreak.config import Config

PLAYGROUND = "pages/playground.py"


def playground_link(config: Config, label: str = "Open this in the Playground") -> None:
    """A link to the Playground that carries `config` in the URL (its non-default flat settings).

    Inside the app it is a page link (same tab, same session); when a lesson runs on its own,
    where the Playground is not registered, it is a plain link to the default page at /.
    Projector mode (`?present=1`) is carried along.
    """
    params = cm.query_for_config(config)
    if cm.present_mode():
        params[cm.PRESENT_KEY] = "1"
    try:
        st.page_link(PLAYGROUND, label=label, icon=":material/science:", query_params=params)
    except StreamlitPageNotFoundError:
        st.markdown(f":material/science: [{label}](/?{urlencode(params)})")
