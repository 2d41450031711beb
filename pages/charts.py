"""Plotly figures drawn by a small component that keeps each chart and updates it in place.

`st.plotly_chart` rebuilds a chart from scratch on every rerun: on a classroom
laptop that costs more than the drawing itself, so Step and Play felt slow.
This component keeps one chart element per key and hands each new figure to
`Plotly.react`, which only redraws what changed. plotly.js comes from the
plotly Python package (its bundled `plotly.min.js`), served by Streamlit's
component file route, so no network is needed.

While the Playground plays, the chart also paces the animation. The server
sends frames in small batches; the browser draws them one by one (at most
`MAX_FPS` a second) and asks for the next batch as it starts on the current
one. So the server works while the browser draws, a rerun's cost is shared by
a few frames, and a slow laptop gets fewer frames instead of a backlog.

An array that several traces share (the steps of every curve) is sent once
per chart update, under "shared", and put back in each place by the browser.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly
import plotly.graph_objects as go
import streamlit as st
from streamlit.components.v1 import declare_component

PLOTLY_JS = "plotly.min.js"
PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"
COMPONENT = "symbreak_chart"
CHART_CLASS = "symbreak-chart"
PLOT_CLASS = "symbreak-plot"
MAX_FPS = 20
# A box narrower than this (a phone), or one that would scale its figure below MIN_SCALE, gets the narrow layout:
# side-by-side panels stacked, at full size (see chart_assets/chart.js).
NARROW_WIDTH = 640
MIN_SCALE = 0.8
# How a base64 array (plotly's "typed array spec") starts in figure JSON.
TYPED_ARRAY = '{"dtype":"'
# An array this long or longer that appears more than once in one chart update is sent once.
SHARED_MIN_CHARS = 200
SHARED_KEY = "sharedArray"
HERE = Path(__file__).parent
ASSETS = HERE / "chart_assets"
CHART_JS = "chart.js"
# Declaring a (never drawn) classic component makes Streamlit serve a folder at /component/<name>/: plotly's own,
# and the chart's module. Streamlit sends a component's script with every chart it draws, so that script is only
# a small loader and the module is fetched once per page.
_PLOTLY_FILES = declare_component("plotly_files", path=str(PLOTLY_DIR))
_CHART_FILES = declare_component("chart_files", path=str(ASSETS))
_JS = (ASSETS / "loader.js").read_text(encoding="utf-8")
_CSS = (HERE / "charts.css").read_text(encoding="utf-8")

# What the browser side needs to know, sent with every chart (a few hundred bytes).
OPTIONS = {
    "box_class": CHART_CLASS, "plot_class": PLOT_CLASS, "fps": MAX_FPS, "shared_key": SHARED_KEY,
    "default_height": 450, "narrow_width": NARROW_WIDTH, "min_scale": MIN_SCALE,
    # The narrow layout, in pixels: a panel's height, the room over it for titles and under it for ticks, a
    # legend's row and its entries, how many panels still get a row each, the width from which two share a row.
    "panel_px": 170, "title_px": 28, "footer_px": 56, "legend_row_px": 42, "legend_per_row": 3,
    "single_column_max": 4, "two_column_width": 480,
    # The gap between two columns (paper); font sizes, a character's width and a line's height in ems (to wrap
    # titles); how far under a one-column plot its legend goes; the margins.
    "column_gap": 0.12, "font_size": 16, "title_font_size": 20, "char_em": 0.5, "line_em": 1.3,
    "legend_below_px": 84, "margin_left": 56, "margin_right": 12, "margin_top": 6, "margin_bottom": 6,
    "title_margin": 48,
    # A chart's live region speaks at most this often while frames play (pages/access.css hides it).
    "speak_ms": 2000, "sr_only_class": "symbreak-sr-only",
}

_component = None


def plotly_src() -> str:
    """The URL path of plotly.min.js on this server (honours `server.baseUrlPath`)."""
    return _served(_PLOTLY_FILES.name, PLOTLY_JS)


def chart_src() -> str:
    """The URL path of the chart's module (chart_assets/chart.js) on this server."""
    return _served(_CHART_FILES.name, CHART_JS)


def _served(component: str, name: str) -> str:
    """The URL path of a file in a declared component's folder (honours `server.baseUrlPath`)."""
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return ("/" + base if base else "") + f"/component/{component}/{name}"


def show(figures: go.Figure | Sequence[go.Figure | str], key: str, config: Mapping[str, Any] | None = None,
         batch: int | None = None, on_drawn: Callable[[], None] | None = None, min_width: int = 0,
         volume: float | None = None) -> None:
    """Draw a figure (or, for an animation, a batch of frames) full width; the same key updates the same chart.

    With a `volume` (0 to 1) the chart plays its figures' tones (`layout.meta.tones`, see chart_assets/chart.js).

    In a column narrower than `min_width` pixels the figure is drawn that wide and scaled down to fit, by no
    less than MIN_SCALE; a narrower column (and any under NARROW_WIDTH) stacks the figure's side-by-side panels.

    Frames may be given as figures or as their JSON text (`fig.to_json()`,
    `figures.live_json`), so a batch that is sent again is not serialised again.

    With `batch` (a number that grows by one per batch) the frames are queued
    after the ones still on their way to the screen, and the browser reports
    `batch` as the trigger `drawn` when it starts drawing its first frame:
    that rerun (with `on_drawn`) makes the next batch. A batch sent again with
    the same number is ignored, so a rerun may repeat itself without a cost.
    """
    global _component
    if _component is None:
        _component = st.components.v2.component(COMPONENT, js=_JS, css=_CSS, isolate_styles=False)
    figures = [figures] if isinstance(figures, (go.Figure, str)) else list(figures)
    figures, shared = share_arrays([f if isinstance(f, str) else f.to_json() for f in figures])
    rest = {"config": dict(config or {}), "src": plotly_src(), "module": chart_src(), "batch": batch,
            "min_width": min_width, "options": OPTIONS, "sound": None if volume is None else {"volume": volume}}
    _component(key=key, data=payload(figures, shared, rest), on_drawn_change=on_drawn or _ignore)


def payload(figures: Sequence[str], shared: Sequence[str], rest: Mapping[str, Any]) -> bytes:
    """What a chart is sent: one JSON document, {"figures": [...], "shared": [...], **rest}, as UTF-8 bytes.

    The figures and shared arrays are JSON texts already, so they go in as they
    are: sent as a dict, Streamlit would scan it for dataframes, encode every
    figure again as an escaped string (twice: once more for the element's
    identity) and the browser would parse each twice. Bytes are sent as given
    and hashed once; the chart's loader decodes them.
    """
    head = '{"figures":[' + ",".join(figures) + '],"shared":[' + ",".join(shared) + "],"
    return (head + json.dumps(rest, separators=(",", ":"))[1:]).encode("utf-8")


def share_arrays(figures: Sequence[str]) -> tuple[list[str], list[str]]:
    """The figures' JSON texts with each base64 array that appears more than once (and is at least
    SHARED_MIN_CHARS long) replaced by {SHARED_KEY: index}, and the list of those arrays' JSON texts."""
    spans = [_typed_arrays(text) for text in figures]
    counts = Counter(text[start:end] for text, found in zip(figures, spans) for start, end in found)
    shared = {spec: i for i, spec in enumerate(s for s, n in counts.items() if n > 1 and len(s) >= SHARED_MIN_CHARS)}
    parts = []
    for text, found in zip(figures, spans):
        pieces, done = [], 0
        for start, end in found:
            index = shared.get(text[start:end])
            if index is not None:
                pieces += [text[done:start], f'{{"{SHARED_KEY}":{index}}}']
                done = end
        parts.append("".join(pieces) + text[done:])
    return parts, list(shared)


def _typed_arrays(text: str) -> list[tuple[int, int]]:
    """Where plotly's base64 arrays ({"dtype": …, "bdata": …}) sit in a figure's JSON text."""
    found = []
    start = text.find(TYPED_ARRAY)
    while start >= 0:
        end = text.index("}", start) + 1
        found.append((start, end))
        start = text.find(TYPED_ARRAY, end)
    return found


def drawn_batch(key: str) -> int | None:
    """The last batch number the chart under `key` reported (None before any report)."""
    value = st.session_state.get(key)
    drawn = value.get("drawn") if isinstance(value, Mapping) else getattr(value, "drawn", None)
    return None if drawn is None else int(drawn)


def _ignore() -> None:
    """The default `on_drawn` callback: the rerun the report causes is all that is needed."""

