"""What every page draws around its content: the route through app.py, projector mode, charts, banners.

A value from outside (a link, an upload, a file name) is data: `failure`
turns whatever it made fail into a one-line message naming the field, and
`plain` escapes every message before it is shown, so it can never draw a
link, an image or formatting of its own.

Import from a page as `from pages import chrome` (the app's folder is on the
path when Streamlit runs `app.py`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence

import plotly.graph_objects as go
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from pages import charts
from symbreak.data.dataset import DataError
from symbreak.engine.trainer import Trainer
from symbreak.export import csv_text
from symbreak.settings.values import QUOTE_CHARS, ConfigError, quote

# A chart in one of two or more columns is drawn at least this wide, scaled down in a narrower column (a
# 1024-pixel projector with the sidebar open), so its title and ticks shrink instead of being cut off.
COLUMN_MIN_WIDTH = 400
PRESENT_KEY = "present"
PREDICT_KEY = "predict"  # ?predict=0 opens every lesson on its answer, without the question
TRUE_WORDS = ("1", "true", "yes", "on")
MAX_MESSAGE_CHARS = 400  # a whole message, with the user's value quoted in it
# Every ASCII punctuation character: CommonMark lets a backslash make any of them a plain character.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
# What Markdown turns into a link even when escaped (GFM's autolinks: a scheme's '://', 'www.', an e-mail's
# '@'), kept from doing so by an invisible word joiner.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=@)|(?<=www)(?=\.)", re.IGNORECASE)
WORD_JOINER = "\u2060"
_LOG = logging.getLogger(__name__)
PLOTLY_CONFIG = {"displayModeBar": False, "scrollZoom": False}


# ------------------------------------------------------------------ page set-up
def route_through_app() -> None:
    """Run this page through app.py's navigation, even from a deep link on a fresh server: every page calls it first.

    Streamlit starts in its legacy multipage mode when a folder named pages/
    sits beside app.py and, until some session has called st.navigation, runs
    a deep-linked page file alone (no navigation, no page config). Leaving
    that mode and rerunning hands the same URL to app.py's st.navigation.
    """
    # Streamlit 1.67 has no public switch for this: no config option, and st.navigation only leaves the mode
    # once app.py runs, which a deep link skips; tests/test_browser_deeplink.py pins the behaviour.
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def present_mode() -> bool:
    """Whether the URL asks for projector mode (`?present=1`): views and Play/Step only."""
    return str(st.query_params.get(PRESENT_KEY, "")).strip().lower() in TRUE_WORDS


def hide_sidebar() -> None:
    """Projector mode: hide the sidebar, its open/close arrow and the top bar, and use the room for the views."""
    st.html("<style>[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'],"
            " [data-testid='stExpandSidebarButton'], [data-testid='stHeader'] {display: none !important;}"
            " [data-testid='stMainBlockContainer'] {padding-top: 1rem !important;}</style>")


def show_figure(fig: go.Figure | str | Sequence[go.Figure | str], key: str, batch: int | None = None,
                on_drawn: Callable[[], None] | None = None, min_width: int = 0, volume: float | None = None) -> None:
    """Draw a plotly figure full width with the app's plotly settings; the same key updates the chart in place.

    A list of figures with `batch` and `on_drawn` is a batch of animation frames; a column narrower than
    `min_width` pixels shows the figure scaled down; a `volume` plays its tones (see `charts.show`).
    """
    charts.show(fig, key=key, config=PLOTLY_CONFIG, batch=batch, on_drawn=on_drawn, min_width=min_width,
                volume=volume)



# ------------------------------------------------------------------ messages: a user's value is data
def plain(text: str) -> str:
    """Text that Markdown shows as written: one line, at most MAX_MESSAGE_CHARS, every punctuation escaped.

    What a Markdown element (st.error, st.markdown, a badge) draws from it is
    the characters themselves: never a link, an image, an icon, a colour or
    emphasis. (A word joiner, which shows as nothing, breaks what would be an autolink.)
    """
    text = _CONTROL.sub(" ", text)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS - 1] + "…"
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", _AUTOLINK.sub(WORD_JOINER, text))


def failure(field: str, value: str, exc: BaseException) -> str:
    """The one-line message for a value that could not be used: the field, the value quoted short, why."""
    if isinstance(exc, (ConfigError, DataError)):
        reason = str(exc).replace(value, quote(value)[1:-1]) if value else str(exc)
    elif isinstance(exc, RecursionError):
        reason = f"{field}: nested too deeply to read"
    elif isinstance(exc, (OverflowError, MemoryError)):
        reason = f"{field}: holds a number or a size too large to use"
    else:
        _LOG.warning("unexpected failure reading %s", field, exc_info=exc)
        reason = f"{field}: cannot be read ({type(exc).__name__})"
    return reason if len(reason) <= MAX_MESSAGE_CHARS else reason[:MAX_MESSAGE_CHARS - 1] + "…"


def short(text: str) -> str:
    """text cut to config's QUOTE_CHARS, with an ellipsis: a file or column name inside a one-line message."""
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS - 1] + "…"


# ------------------------------------------------------------------ banners and downloads
def divergence_banner(trainer: Trainer, run: int = 0) -> bool:
    """Show the trainer's divergence message, or its warning that the loss blew up while staying finite;
    True when the run has diverged."""
    message = trainer.divergence_message(run)
    if message:
        st.error(plain(_sentence(message)), icon=":material/warning:")
        return True
    warning = trainer.overshoot_message(run)
    if warning:
        st.warning(plain(_sentence(warning)), icon=":material/trending_up:")
    return False


def _sentence(text: str) -> str:
    """The trainer's lower-case message as a sentence on its own."""
    return text[0].upper() + text[1:]


def download_buttons(trainer: Trainer, run: int = 0, prefix: str = "symbreak") -> None:
    """History CSV, config JSON and final weights JSON, in the CLI's formats (built only when clicked)."""
    names = list(trainer.dataset.feature_names)

    def history_csv() -> str:
        return csv_text(trainer.history.to_frame(run, input_names=names))

    st.download_button("History (CSV)", history_csv, file_name=f"{prefix}-history.csv", mime="text/csv",
                       on_click="ignore", help="Every recorded step: each weight, bias and gradient, one per row "
                       "(the format of `symbreak run --out-history`).", key=f"{prefix}.dl_history")
    st.download_button("Config (JSON)", lambda: trainer.configs[run].to_json(), file_name=f"{prefix}-config.json",
                       mime="application/json", on_click="ignore", key=f"{prefix}.dl_config",
                       help="All settings of this run: `symbreak run --config` trains it again.")
    st.download_button("Weights now (JSON)", lambda: trainer.weights_json(run), file_name=f"{prefix}-weights.json",
                       mime="application/json", on_click="ignore", key=f"{prefix}.dl_weights",
                       help="The current weights, in the `--init-weights` format: load them as a starting point.")
