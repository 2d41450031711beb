"""The look every figure module shares: palette, template, panel grid, thinning and group labels.

`figures`, `lesson_figures` and `lesson_init_figures` all draw with these, so a
neuron, a sign or a panel title looks the same on every page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

MAX_POINTS = 1000
FONT_SIZE = 16

# Every line, marker, bar and the meter is at least 3:1 against the white background (WCAG 2.1 1.4.11,
# non-text contrast; tests/test_figures_contrast.py measures each figure). MIN_CONTRAST is that floor.
MIN_CONTRAST = 3.0
# Okabe & Ito's (2008) "Color Universal Design" hues, reordered so the yellow comes last, and darkened where
# they fell below 3:1 on white: orange #E69F00 (2.25:1) -> #BE8700, sky blue #56B4E9 (2.31:1) -> #237DFF,
# yellow #F0E442 (1.32:1) -> #876E00. Vermillion (#D55E00) leans to red and the reddish purple (#CC79A7) darkens,
# or the darker orange and gold would meet them for protan and deutan eyes (least CAM02-UCS distance between
# two of the eight, normal vision and simulated dichromacies: 10.7, Okabe & Ito's own 11.0). Blue, bluish green
# and black are unchanged.
OKABE_ITO = ("#BE8700", "#237DFF", "#009E73", "#0072B2", "#D26450", "#AF5082", "#000000", "#876E00")
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot", "5px,2px,1px,2px", "1px,3px")
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x", "star", "hexagon")
POSITIVE = OKABE_ITO[3]  # blue: a positive weight, the training set, a tie
NEGATIVE = OKABE_ITO[4]  # vermillion: a negative weight, the test set, a split
NEUTRAL = "#8A8A8A"  # a zero weight, an unused neuron, a level to compare with (3.4:1)
FAINT = "#909090"  # data points behind the lines that matter: the lightest grey that keeps 3:1 (3.2:1)
MARKER_LINE = "#555555"
# One line per value of an ordered quantity (ε): Cividis's dark blue to a gold that keeps 3:1.
RAMP = ("#00204C", "#A88E00")
# Left light on purpose, each a second view of what a line or marker shows at full strength: the seeds'
# range band under each mean line (ticket), the heatmaps under the data points and boundaries.
GRID_COLOR = "#E6E6E6"
# Vermillion (negative) through white to blue (positive): colour-blind safe.
DIVERGING = [[0.0, NEGATIVE], [0.5, "#FFFFFF"], [1.0, POSITIVE]]
SEQUENTIAL = "Cividis"

_AXIS = dict(showgrid=True, gridcolor=GRID_COLOR, zeroline=False, linecolor="#888888", ticks="outside")
TEMPLATE = dict(layout=dict(
    font=dict(size=FONT_SIZE, family="Source Sans Pro, Arial, sans-serif", color="#222222"),
    paper_bgcolor="white", plot_bgcolor="white", xaxis=_AXIS, yaxis=_AXIS, hoverlabel=dict(font=dict(size=FONT_SIZE)),
))
# The lessons' figures, read at leisure, frame each panel with a dark axis line and make room for their tick
# labels and axis titles; the Playground's, redrawn every Play frame and laid out by hand, go without. A
# reference line (a threshold, a level) keeps its full colour: at simple_white's opacity 0.3 it fell to 1.4:1,
# and drawn below the data the grid line at its level covered it.
_FRAME = dict(showline=True, linecolor="#242424", zerolinecolor="#242424", automargin=True, title=dict(standoff=15))
# Plotly's own object, made once: a figure given a template as a dict checks all of it again, 30 ms each time.
FRAMED_TEMPLATE = go.layout.Template(
    dict(layout=dict(TEMPLATE["layout"], xaxis=dict(_AXIS, **_FRAME), yaxis=dict(_AXIS, **_FRAME))))


def neuron_color(index: int) -> str:
    """Colour of neuron `index` (0-based): `OKABE_ITO`, repeating every 8 (told apart by `neuron_dash`)."""
    return OKABE_ITO[index % len(OKABE_ITO)]


def neuron_dash(index: int) -> str:
    """Line dash of neuron `index`: solid for the first 8, then a new dash per block of 8."""
    return DASHES[(index // len(OKABE_ITO)) % len(DASHES)]


def neuron_symbol(index: int) -> str:
    """Marker symbol of neuron `index`: circles for the first 8, then a new symbol per block of 8."""
    return SYMBOLS[(index // len(OKABE_ITO)) % len(SYMBOLS)]


def group_label(members: Sequence[int], names: Sequence[str] | None = None) -> str:
    """A group of neurons (0-based members) by name: 'n3'; 'n1–8 ×8' for a run; 'n1,n3 ×2' otherwise.

    With `names` (one per neuron, e.g. class names) those are shown instead: 'class 0–class 2 ×3'.
    """
    shown = [f"n{m + 1}" for m in members] if names is None else [names[m] for m in members]
    if len(shown) == 1:
        return shown[0]
    if list(members) == list(range(members[0], members[-1] + 1)):
        last = str(members[-1] + 1) if names is None else shown[-1]
        return f"{shown[0]}–{last} ×{len(shown)}"
    return ",".join(shown[:4]) + (",…" if len(shown) > 4 else "") + f" ×{len(shown)}"


def thin_rows(count: int, max_points: int = MAX_POINTS, keep: Sequence[int] = ()) -> np.ndarray:
    """At most `max_points` row indices spread evenly over [0, count), always with the ends and `keep`."""
    if count <= max_points:
        return np.arange(count)
    kept = [k for k in keep if 0 <= k < count]
    base = np.round(np.linspace(0, count - 1, max(2, max_points - len(kept)))).astype(np.int64)
    return np.unique(np.concatenate([base, np.asarray(kept, dtype=np.int64)]))


def point_budget(neurons: int, dim: int, work: int = 4_000_000) -> int:
    """Points per trace for a layer of `neurons` vectors of length `dim`: MAX_POINTS, fewer for wide layers.

    The symmetry series costs neurons² · dim per row, so wide layers get fewer rows (at least 100).
    """
    return int(min(MAX_POINTS, max(100, work // max(1, neurons * neurons * dim))))


def f32(values: np.ndarray) -> np.ndarray:
    """Compact float32 for the wire (a chart cannot show more digits anyway)."""
    return np.asarray(values, dtype=np.float32)


def axis_name(kind: str, index: int) -> str:
    """'x', 'x2', … (trace references) or 'xaxis', 'xaxis2', … (layout keys) for panel `index`."""
    return kind if index == 0 else f"{kind}{index + 1}"


def grid(layout: dict[str, Any], n: int, cols: int, titles: Sequence[str], gap: float = 0.07, vgap: float = 0.16,
         share_x: bool = False, title_size: int = FONT_SIZE, bold: bool = True) -> None:
    """Lay n panels out in a layout dict, `cols` to a row (cheaper than make_subplots), each titled above.

    Sets each panel's axis domains and anchors and appends its title to layout['annotations'].
    """
    rows = -(-n // cols)
    width = (1 - gap * (cols - 1)) / cols
    height = (1 - vgap * (rows - 1)) / rows
    annotations = layout.setdefault("annotations", [])
    for i in range(n):
        r, c = divmod(i, cols)
        x0, y1 = c * (width + gap), 1 - r * (height + vgap)
        layout.setdefault(axis_name("xaxis", i), {}).update(
            domain=[max(0.0, x0), min(1.0, x0 + width)], anchor=axis_name("y", i),
            **({"matches": "x"} if share_x and i else {}))
        layout.setdefault(axis_name("yaxis", i), {}).update(
            domain=[max(0.0, y1 - height), min(1.0, y1)], anchor=axis_name("x", i))
        annotations.append(dict(
            text=f"<b>{titles[i]}</b>" if bold else titles[i], x=x0 + width / 2, y=y1, xref="paper", yref="paper",
            xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=title_size)))
