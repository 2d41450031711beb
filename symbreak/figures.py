"""Plotly figures of a run: pure functions from recorded history (and probed outputs) to `go.Figure`.

Every builder takes a `History` plus a run and a history row, and returns a
figure; the input-plane views also take a `probe.Probe`, the network's outputs
over a grid that the page computes. Nothing here trains, draws or imports
streamlit, so every figure is tested without a browser. The look (palette,
template, panel grid, thinning, group labels) is `plotting`'s. Long histories
are thinned to at most `MAX_POINTS` points per trace, so the cost of a redraw
does not grow with the steps trained. Neurons that are identical (within the
config's tolerance; bitwise when it is 0; grouped by `metrics.groups`) are
drawn once and labelled with how many they are, e.g. "n1–8 ×8"; a group takes
the colour of its first neuron, so neuron 1 has the same colour in every view.

Figures are assembled from plain dicts and validated once at the end (twice as
fast as adding graph objects one by one, which matters at 10 redraws a second).
The figures every Step and Play frame redraws (`live_json`, `loss_json`, and
`weight_space_json` for the tab open by default) skip the graph objects
altogether: their dicts go straight to figure JSON, the same JSON plotly
writes for them (the tests compare the two).
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.utils import PlotlyJSONEncoder

from .data import Dataset
from .history import History
from .metrics import distinct, groups, pairwise_distances, spread
from .plotting import (FAINT, FONT_SIZE, MARKER_LINE, MAX_POINTS, NEGATIVE, NEUTRAL, OKABE_ITO, POSITIVE, SEQUENTIAL,
                       SYMBOLS, DIVERGING, TEMPLATE, axis_name, f32, grid, group_label, neuron_color, neuron_dash,
                       neuron_symbol, thin_rows)
from .probe import Probe

MAX_PANELS = 6
MAX_PLANE_PANELS = 12
IDENTICAL_TEXT = "identical to the last bit"


# plotly.js's names of the numpy dtypes it reads from base64 (its "typed array specs").
_TYPED_ARRAY_DTYPES = {"int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4", "uint32": "u4",
                       "float32": "f4", "float64": "f8"}
_NARROWER = {"int64": (np.int8, np.int16, np.int32), "uint64": (np.uint8, np.uint16, np.uint32)}
# Keys whose arrays plotly.py leaves as lists (`_plotly_utils.utils.is_skipped_key`).
_LIST_KEYS = frozenset({"geojson", "layer", "layers", "range"})


# ------------------------------------------------------------------ figure JSON without graph objects
def _typed_array(values: np.ndarray) -> dict[str, str] | np.ndarray:
    """An array as a base64 typed array spec, as plotly.py writes it: 64-bit integers narrowed to the smallest
    type that holds them; an empty array, or one plotly.js cannot read so, stays an array (sent as a list)."""
    if values.size == 0:
        return values
    narrower = _NARROWER.get(values.dtype.name)
    if narrower:
        low, high = values.min(), values.max()
        fits = [t for t in narrower if np.iinfo(t).min <= low and high <= np.iinfo(t).max]
        if not fits:
            return values
        values = values.astype(fits[0])
    name = _TYPED_ARRAY_DTYPES.get(values.dtype.name)
    if name is None:
        return values
    spec = {"dtype": name, "bdata": base64.b64encode(np.ascontiguousarray(values)).decode("ascii")}
    if values.ndim > 1:
        spec["shape"] = str(values.shape)[1:-1]
    return spec


def _wire(value: Any) -> Any:
    """A copy of a figure's dicts and lists with each array under a dict key as a typed array spec (where
    plotly.py's `convert_to_base64` puts them)."""
    if isinstance(value, dict):
        return {key: item if key in _LIST_KEYS else _typed_array(item) if isinstance(item, np.ndarray)
                else _wire(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(item) for item in value]
    return value


def figure_json(figure: Mapping[str, Any]) -> str:
    """A figure dict ({'data': [...], 'layout': {...}}) as JSON that reads back as `go.Figure(figure).to_json()`
    does, without building the graph objects (which costs more than the rest of a redraw).

    Written by plotly's own encoder, but without the escapes of '<', '>' and
    '/' that make plotly's text safe inside an HTML script tag: this JSON is
    parsed by the chart, never put in a page, and base64 is full of '/'.
    """
    return json.dumps(_wire(figure), cls=PlotlyJSONEncoder, separators=(",", ":"))


# ------------------------------------------------------------------ names
def input_names(history: History, layer: int, names: Sequence[str] | None = None) -> list[str]:
    """Names of a layer's inputs: the dataset's feature names for layer 0, else h1..hn of the layer below."""
    fan_in = history.layout.sizes[layer]
    if layer == 0 and names is not None and len(names) == fan_in:
        return [label_text(name) for name in names]
    if layer == 0:
        return [f"x{i + 1}" for i in range(fan_in)]
    return [f"h{i + 1}" for i in range(fan_in)]


def label_text(name: object) -> str:
    """A name from the user's data as plain text in a chart: plotly reads tags like <a href> and <br> in labels,
    so the markup characters become entities, which it shows as typed."""
    return html.escape(str(name), quote=False)


def layer_title(history: History, layer: int) -> str:
    """'hidden layer 1' for hidden layers; 'output layer' for the last one."""
    return "output layer" if layer == history.layout.n_layers - 1 else f"hidden layer {layer + 1}"


def _clamp_row(history: History, row: int | None) -> int:
    last = max(history.count - 1, 0)
    return last if row is None else int(min(max(row, 0), last))


_LISTS = ("shapes", "annotations")


@dataclass
class _Fig:
    """A figure under construction: a layout dict and trace dicts, validated once by `done`."""

    title: str
    height: int
    layout: dict[str, Any] = field(default_factory=dict)
    traces: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        given = self.layout
        self.layout = dict(template=TEMPLATE, height=self.height, title=dict(text=self.title, x=0, xanchor="left"),
                           margin=dict(l=60, r=20, t=70, b=50), shapes=[], annotations=[])
        self.layout.update(given)

    def axis(self, key: str, **settings: Any) -> None:
        """Merge settings into a layout axis ('xaxis', 'yaxis2', …)."""
        self.layout.setdefault(key, {}).update(settings)

    def grid(self, n: int, cols: int, titles: Sequence[str], gap: float = 0.07, vgap: float = 0.16,
             share_x: bool = False) -> None:
        """n panels in a grid of `cols` columns, each with a bold title (see `plotting.grid`)."""
        grid(self.layout, n, cols, titles, gap, vgap, share_x)

    def step_axes(self, history: History, row: int, panels: int = 1) -> None:
        """Step axes from 0 to the last step, with a dotted line at the row's step, on the first panels."""
        step, last = int(history.steps[row]), int(history.steps[history.count - 1])
        for i in range(panels):
            # Few step ticks: neighbouring panels' labels do not collide, and each redraw measures less text.
            self.axis(axis_name("xaxis", i), range=[0, max(last, 10) * 1.02], nticks=4)
            self.layout["shapes"].append(dict(
                type="line", x0=step, x1=step, y0=0, y1=1, xref=axis_name("x", i), yref=f"{axis_name('y', i)} domain",
                line=dict(color=MARKER_LINE, width=1.5, dash="dot")))

    def hline(self, y: float, colour: str, text: str, dash: str = "solid", right: bool = False,
              log: bool = False) -> None:
        """A horizontal line across the (single) panel at y, labelled just above it (log: a log y axis)."""
        self.layout["shapes"].append(dict(type="line", x0=0, x1=1, y0=y, y1=y, xref="x domain", yref="y",
                                          line=dict(color=colour, width=2, dash=dash)))
        # Plotly places annotations on a log axis by log10 of the value (shapes by the value itself).
        self.layout["annotations"].append(dict(
            text=text, x=1 if right else 0, y=float(np.log10(y)) if log else y, xref="x domain", yref="y",
            xanchor="right" if right else "left",
            yanchor="bottom", showarrow=False, font=dict(color=colour, size=FONT_SIZE - (2 if right else 0))))

    def done(self) -> go.Figure:
        """The finished figure. Plotly's per-property validation is skipped: it costs more than the
        rest of a redraw, and the tests validate every builder's output instead."""
        return go.Figure(dict(data=self.traces, layout=self.layout), _validate=False)

    def json(self) -> str:
        """The finished figure as figure JSON, without graph objects (see `figure_json`); no shapes or no
        annotations are left out, as plotly leaves out an empty list."""
        layout = {key: value for key, value in self.layout.items() if key not in _LISTS or value}
        return figure_json(dict(data=self.traces, layout=layout))


# ------------------------------------------------------------------ headline
@dataclass(frozen=True)
class Summary:
    """Symmetry at one row: how many neurons, how many distinct, the largest gap, and a one-line headline."""

    step: int
    neurons: int
    distinct: int
    gap: float
    text: str


def symmetry_summary(history: History, layer: int = 0, run: int = 0, row: int | None = None,
                     tol: float = 1e-6) -> Summary:
    """The headline for one layer at one row, e.g. '8 neurons, 1 distinct: identical to the last bit'."""
    row = _clamp_row(history, row)
    vectors = history.neuron_vectors(layer, run)[row]
    n = vectors.shape[0]
    gap = float(spread(vectors))
    count = int(distinct(vectors, tol))
    if n == 1:
        text = "1 neuron: nothing to compare it with"
    elif gap == 0.0:
        text = f"{n} neurons, 1 distinct: {IDENTICAL_TEXT}"
    elif count == 1:
        text = f"{n} neurons, 1 distinct: equal within the tolerance {tol:g} (largest gap {gap:.1e})"
    elif count == n:
        text = f"{n} neurons, {n} distinct: the symmetry is broken"
    else:
        text = f"{n} neurons, {count} distinct: some are still tied"
    return Summary(int(history.steps[row]), n, count, gap, text)


# ------------------------------------------------------------------ 1. trajectories
def trajectories_figure(history: History, layer: int = 0, run: int = 0, row: int | None = None,
                        tol: float = 1e-6, names: Sequence[str] | None = None,
                        max_points: int = MAX_POINTS, height: int = 430) -> go.Figure:
    """Each neuron's incoming weights and bias over steps: one panel per input (+ bias), one line per group.

    Neurons identical at every recorded row are one line labelled 'n1–8 ×8'. At most
    MAX_PANELS panels: for a wide fan-in the first inputs and the bias are shown.
    """
    return _trajectories(history, layer, run, row, tol, names, max_points, height).done()


def _trajectories(history: History, layer: int, run: int, row: int | None, tol: float,
                  names: Sequence[str] | None, max_points: int, height: int) -> _Fig:
    row = _clamp_row(history, row)
    rows = thin_rows(history.count, max_points, keep=(row,))
    vectors = history.neuron_vectors(layer, run)[rows]
    steps = history.steps[rows].astype(np.int32)
    sources = input_names(history, layer, names) + ["bias"]
    shown = list(range(len(sources)))
    if len(shown) > MAX_PANELS:
        shown = shown[: MAX_PANELS - 1] + [len(sources) - 1]
    title = f"Each neuron's weights and bias ({layer_title(history, layer)})"
    if len(shown) < len(sources):
        title += f": {len(shown) - 1} of {len(sources) - 1} inputs shown"
    cols = len(shown) if len(shown) <= 3 else -(-len(shown) // 2)
    n_rows = -(-len(shown) // cols)
    fig = _Fig(title, height + (n_rows - 1) * 160,
               dict(legend=dict(x=1.01, y=1, font=dict(size=FONT_SIZE + 2)), margin=dict(l=60, r=10, t=90, b=50)))
    fig.grid(len(shown), cols, [sources[s] for s in shown], gap=0.12, share_x=True)
    for panel in range(len(shown)):
        fig.axis(axis_name("yaxis", panel), nticks=6)
    for members in groups(vectors, tol):
        first, label = members[0], group_label(members)
        for panel, source in enumerate(shown):
            fig.traces.append(dict(
                type="scatter", x=steps, y=f32(vectors[:, first, source]), name=label, legendgroup=label,
                mode="lines" if len(steps) > 1 else "markers", showlegend=panel == 0,
                xaxis=axis_name("x", panel), yaxis=axis_name("y", panel),
                line=dict(color=neuron_color(first), dash=neuron_dash(first), width=4 if len(members) > 1 else 2.5),
                marker=dict(color=neuron_color(first), size=10),
                hovertemplate=f"{label}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>",
            ))
    for panel in range(len(shown)):
        if panel + cols >= len(shown):
            fig.axis(axis_name("xaxis", panel), title=dict(text="step", standoff=4))
    fig.step_axes(history, row, len(shown))
    return fig


# ------------------------------------------------------------------ 1+3. the live view
_AXIS_KEY = re.compile(r"^([xy])axis(\d*)$")


def _renumber(ref: str, offset: int) -> str:
    """An axis reference shifted by `offset` panels: 'x2' → 'x5', 'y domain' → 'y4 domain'; paper unchanged."""
    base, _, rest = ref.partition(" ")
    if not base or base == "paper":
        return ref
    number = int(base[1:] or 1) + offset
    return f"{base[0]}{number if number > 1 else ''}" + (f" {rest}" if rest else "")


def _combine(parts: Sequence[_Fig], boxes: Sequence[tuple[float, float, float, float]], height: int) -> _Fig:
    """Several figures as one, each in a box (x0, x1, y0, y1) of the plotting area.

    Axes are renumbered, paper coordinates mapped into the box, each part keeps
    its own legend, and its title becomes a bold label over its box. One chart
    instead of two: the browser redraws one element per Play frame.
    """
    out = _Fig("", height, dict(margin=dict(l=60, r=20, t=10, b=45)))
    del out.layout["title"]
    offset = 0
    for index, (part, (x0, x1, y0, y1)) in enumerate(zip(parts, boxes)):
        def px(v: float, x0: float = x0, x1: float = x1) -> float:
            return x0 + v * (x1 - x0)

        def py(v: float, y0: float = y0, y1: float = y1) -> float:
            return y0 + v * (y1 - y0)

        layout = part.layout
        panels = 1
        for key, value in layout.items():
            match = _AXIS_KEY.match(key)
            if not match:
                continue
            kind, number = match.group(1), int(match.group(2) or 1)
            panels = max(panels, number)
            axis = dict(value)
            low, high = axis.get("domain", [0.0, 1.0])
            axis["domain"] = [px(low), px(high)] if kind == "x" else [py(low), py(high)]
            other = "y" if kind == "x" else "x"
            axis["anchor"] = _renumber(axis.get("anchor", other + (str(number) if number > 1 else "")), offset)
            if "matches" in axis:
                axis["matches"] = _renumber(axis["matches"], offset)
            out.layout[f"{kind}axis{number + offset if number + offset > 1 else ''}"] = axis
        legend = "legend" if index == 0 else f"legend{index + 1}"
        shows_legend = layout.get("showlegend", True) is not False
        if shows_legend:
            given = dict(layout.get("legend", {}))
            given["x"], given["y"] = px(given.get("x", 1.02)), py(given.get("y", 1.0))
            out.layout[legend] = given
        for trace in part.traces:
            trace = dict(trace, xaxis=_renumber(trace.get("xaxis", "x"), offset),
                         yaxis=_renumber(trace.get("yaxis", "y"), offset))
            if shows_legend:
                trace["legend"] = legend
            else:
                trace["showlegend"] = False
            out.traces.append(trace)
        for kind in ("shapes", "annotations"):
            for item in layout.get(kind, []):
                item = dict(item)
                for ref, axis_of, keys in (("xref", px, ("x", "x0", "x1")), ("yref", py, ("y", "y0", "y1"))):
                    where = item.get(ref, "paper")
                    if where == "paper":
                        for k in keys:
                            if k in item:
                                item[k] = axis_of(item[k])
                    else:
                        item[ref] = _renumber(where, offset)
                out.layout[kind].append(item)
        title = layout.get("title", {}).get("text", "")
        if title:
            right = x1 >= 1.0  # a title over the right-most box ends at the edge instead of running off it
            out.layout["annotations"].append(dict(
                text=title, x=x1 if right else x0, y=y1, xref="paper", yref="paper",
                xanchor="right" if right else "left", yanchor="bottom", yshift=26, showarrow=False,
                font=dict(size=FONT_SIZE + 3)))
        offset += panels
    return out


def live_figure(history: History, layer: int = 0, run: int = 0, row: int | None = None, tol: float = 1e-6,
                names: Sequence[str] | None = None, max_points: int = MAX_POINTS, height: int = 470) -> go.Figure:
    """The trajectories (left) and the symmetry meter (right) as one figure: what every Play frame redraws.

    The loss has a figure of its own (`loss_figure`): it changes slowly, so
    while playing it is redrawn once per batch of frames, not every frame.
    """
    return _live(history, layer, run, row, tol, names, max_points, height).done()


def live_json(history: History, layer: int = 0, run: int = 0, row: int | None = None, tol: float = 1e-6,
              names: Sequence[str] | None = None, max_points: int = MAX_POINTS, height: int = 470) -> str:
    """`live_figure` as figure JSON, made without graph objects: what Step and every Play frame send."""
    return _live(history, layer, run, row, tol, names, max_points, height).json()


def _live(history: History, layer: int, run: int, row: int | None, tol: float, names: Sequence[str] | None,
          max_points: int, height: int) -> _Fig:
    meter = _symmetry(history, layer, run, row, tol, max_points, height)
    del meter.layout["yaxis"]["title"]  # the part's title names the gap already; the room goes to the legend
    parts = [_trajectories(history, layer, run, row, tol, names, max_points, height), meter]
    top = 1 - 62 / height
    boxes = [(0.0, 0.52, 0.0, top), (0.74, 1.0, 0.0, top)]  # room between for the legend and the meter's ticks
    return _combine(parts, boxes, height)


# ------------------------------------------------------------------ 2. weight space
def pca_projection(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean [d], components [2, d]) of all neuron vectors [T, n, d] over the whole history (numpy SVD)."""
    flat = vectors.reshape(-1, vectors.shape[-1]).astype(np.float64)
    mean = flat.mean(axis=0)
    _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
    components = np.zeros((2, flat.shape[1]))
    components[: min(2, len(vt))] = vt[:2]
    # A fixed sign, so the picture does not flip when the history grows by a row.
    for c in components:
        if c[np.argmax(np.abs(c))] < 0:
            c *= -1
    return mean, components


def weight_space_coordinates(history: History, layer: int = 0, run: int = 0,
                             names: Sequence[str] | None = None) -> tuple[np.ndarray, str, str]:
    """Each neuron's 2-D position over the rows [T, n, 2], and the axis titles.

    Two inputs: (w1, w2). One input: (w, bias). More: the first two principal
    components of all neuron vectors over the whole history, so the projection
    stays fixed while you look back.
    """
    vectors = history.neuron_vectors(layer, run)
    sources = input_names(history, layer, names)
    if len(sources) == 2:
        return vectors[..., :2], f"weight from {sources[0]}", f"weight from {sources[1]}"
    if len(sources) == 1:
        return vectors[..., :2], f"weight from {sources[0]}", "bias"
    mean, components = pca_projection(vectors)
    return (vectors - mean) @ components.T, "principal component 1", "principal component 2"


def _padded_range(values: np.ndarray) -> list[float]:
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    pad = max((high - low) * 0.08, 1e-3 * max(1.0, abs(low), abs(high)))
    return [low - pad, high + pad]


def weight_space_figure(history: History, layer: int = 0, run: int = 0, row: int | None = None,
                        tol: float = 1e-6, names: Sequence[str] | None = None,
                        max_points: int = MAX_POINTS, height: int = 480) -> go.Figure:
    """Each neuron as a point in weight space at the selected row, with its trail since step 0.

    Axes are fixed over the whole history. Neurons identical at the row are one marker labelled '×k'.
    """
    return _weight_space(history, layer, run, row, tol, names, max_points, height).done()


def weight_space_json(history: History, layer: int = 0, run: int = 0, row: int | None = None,
                      tol: float = 1e-6, names: Sequence[str] | None = None,
                      max_points: int = MAX_POINTS, height: int = 480) -> str:
    """`weight_space_figure` as figure JSON, made without graph objects (its tab is the one open by default)."""
    return _weight_space(history, layer, run, row, tol, names, max_points, height).json()


def _weight_space(history: History, layer: int, run: int, row: int | None, tol: float,
                  names: Sequence[str] | None, max_points: int, height: int) -> _Fig:
    row = _clamp_row(history, row)
    coords, x_title, y_title = weight_space_coordinates(history, layer, run, names)
    rows = thin_rows(row + 1, max_points, keep=(row,))
    found = groups(history.neuron_vectors(layer, run)[row], tol)
    fig = _Fig(f"Neurons in weight space at step {int(history.steps[row]):,} ({layer_title(history, layer)})",
               height, dict(legend=dict(x=1.01, y=1)))
    for members in found:
        first, label = members[0], group_label(members)
        fig.traces.append(dict(
            type="scatter", x=f32(coords[rows, first, 0]), y=f32(coords[rows, first, 1]), mode="lines",
            legendgroup=label, showlegend=False, hoverinfo="skip", opacity=0.45,
            line=dict(color=neuron_color(first), width=2, dash=neuron_dash(first)),
        ))
    for members in found:
        first, label = members[0], group_label(members)
        fig.traces.append(dict(
            type="scatter", x=f32(coords[row, first, :1]), y=f32(coords[row, first, 1:2]), mode="markers+text",
            name=label, legendgroup=label, text=[label if len(members) > 1 else ""], textposition="top center",
            cliponaxis=False,  # a label above a marker at the top of the range is not cut off
            textfont=dict(size=FONT_SIZE + 2, color=neuron_color(first)),
            marker=dict(color=neuron_color(first), symbol=neuron_symbol(first),
                        size=22 if len(members) > 1 else 15, line=dict(color="white", width=1.5)),
            hovertemplate=f"{label}<br>(%{{x:.4g}}, %{{y:.4g}})<extra></extra>",
        ))
    fig.axis("xaxis", title=dict(text=x_title), range=_padded_range(coords[..., 0]))
    fig.axis("yaxis", title=dict(text=y_title), range=_padded_range(coords[..., 1]))
    return fig


# ------------------------------------------------------------------ 3. symmetry meter
def symmetry_floor(gaps: np.ndarray, dtype_bits: int = 32) -> float:
    """Where an exactly-zero gap is drawn on the log axis: below every non-zero gap."""
    floor = 1e-12 if dtype_bits == 32 else 1e-20
    positive = gaps[gaps > 0]
    if positive.size:
        floor = min(floor, 10 ** (np.floor(np.log10(positive.min())) - 1))
    return float(floor)


def history_bits(history: History) -> int:
    """Bits of the history's float type (32 or 64)."""
    return history.params.element_size() * 8


def symmetry_figure(history: History, layer: int = 0, run: int = 0, row: int | None = None,
                    tol: float = 1e-6, max_points: int = MAX_POINTS, height: int = 330) -> go.Figure:
    """The gap (largest distance between two neurons) against step on a log axis.

    An exactly-zero gap cannot sit on a log axis, so it is drawn on a floor
    line labelled 'identical to the last bit'; a dashed line marks the tolerance.
    """
    return _symmetry(history, layer, run, row, tol, max_points, height).done()


def _symmetry(history: History, layer: int, run: int, row: int | None, tol: float, max_points: int,
              height: int) -> _Fig:
    row = _clamp_row(history, row)
    rows = thin_rows(history.count, max_points, keep=(row,))
    steps = history.steps[rows].astype(np.int32)
    gaps, counts = (series[rows] for series in history.symmetry(layer, run, tol))
    floor = symmetry_floor(gaps, history_bits(history))
    zero = gaps == 0
    fig = _Fig("Symmetry meter: largest gap", height,
               dict(showlegend=False, margin=dict(l=70, r=20, t=60, b=50)))
    fig.traces.append(dict(
        type="scatter", x=steps, y=np.where(zero, floor, gaps), mode="lines" if len(steps) > 1 else "markers",
        line=dict(color="#333333", width=3), marker=dict(color="#333333", size=9), customdata=counts,
        hovertemplate="step %{x}<br>gap %{y:.3g}<br>%{customdata} distinct<extra></extra>",
    ))
    if zero.any():
        # One thick blue line along the floor while the gap is exactly 0 (a path, not a marker per step).
        fig.traces.append(dict(
            type="scatter", x=steps, y=np.where(zero, floor, np.nan), mode="lines" if len(steps) > 1 else "markers",
            line=dict(color=POSITIVE, width=6), marker=dict(color=POSITIVE, size=9), connectgaps=False,
            hovertemplate="step %{x}: " + IDENTICAL_TEXT + "<extra></extra>",
        ))
    at_row = bool(zero[np.searchsorted(rows, row)]) if len(rows) else True
    if at_row:
        fig.hline(floor, POSITIVE, f"gap 0: {IDENTICAL_TEXT}", log=True)
    else:
        fig.hline(floor, NEUTRAL, "floor: gap 0 would sit here", dash="dot", log=True)
    if tol > 0:
        fig.hline(tol, "#666666", f"tolerance {tol:g}", dash="dash", right=True, log=True)
    top = max(float(gaps.max()) if gaps.size else 1.0, tol, floor * 1e3)
    fig.axis("yaxis", type="log", title=dict(text="gap (log scale)"), exponentformat="power",
             range=[np.log10(floor) - 0.6, np.log10(top) + 0.6])
    fig.axis("xaxis", title=dict(text="step", standoff=4))
    fig.step_axes(history, row)
    return fig


# ------------------------------------------------------------------ 4. distances
def distance_figure(history: History, layer: int = 0, run: int = 0, row: int | None = None,
                    height: int = 480) -> go.Figure:
    """Heatmap of the distance between every pair of neurons at the row; exactly 0 means identical."""
    row = _clamp_row(history, row)
    dist = pairwise_distances(history.neuron_vectors(layer, run)[row])
    n = len(dist)
    labels = [f"n{i + 1}" for i in range(n)]
    fig = _Fig(f"Distance between neurons at step {int(history.steps[row]):,} (0 = identical)", height,
               dict(margin=dict(l=60, r=20, t=100, b=30)))
    text = [["0" if v == 0 else f"{v:.2g}" for v in line] for line in dist] if n <= 12 else None
    fig.traces.append(dict(
        # All zero (a tied layer): a 0-to-1 scale, so every cell reads as the bottom of an ordinary bar.
        type="heatmap", z=dist, x=labels, y=labels, colorscale=SEQUENTIAL, zmin=0,
        zmax=float(dist.max()) or 1.0, text=text, texttemplate="%{text}" if text else None,
        textfont=dict(size=FONT_SIZE - 2), colorbar=dict(title=dict(text="distance")),
        hovertemplate="%{y} to %{x}: %{z:.3g}<extra></extra>",
    ))
    fig.axis("yaxis", autorange="reversed", showgrid=False, scaleanchor="x")
    # The square cells shrink the x axis's domain (not widen its range), so the row labels stay beside the cells.
    fig.axis("xaxis", showgrid=False, side="top", constrain="domain")
    return fig.done()


# ------------------------------------------------------------------ 5. loss and accuracy
def loss_figure(history: History, run: int = 0, row: int | None = None, task: str = "binary",
                max_points: int = MAX_POINTS, height: int = 330) -> go.Figure:
    """Train and test loss, and for classification train and test accuracy, against step."""
    return _loss(history, run, row, task, max_points, height).done()


def loss_json(history: History, run: int = 0, row: int | None = None, task: str = "binary",
              max_points: int = MAX_POINTS, height: int = 330) -> str:
    """`loss_figure` as figure JSON, made without graph objects (it is redrawn on every Step)."""
    return _loss(history, run, row, task, max_points, height).json()


def _loss(history: History, run: int, row: int | None, task: str, max_points: int, height: int,
          legend: bool = True) -> _Fig:
    """The loss figure; without a legend the title says which line is which (for a narrow box)."""
    row = _clamp_row(history, row)
    rows = thin_rows(history.count, max_points, keep=(row,))
    steps = history.steps[rows].astype(np.int32)
    classify = task != "regression"
    panels = 2 if classify else 1
    title = "Loss and accuracy" if classify else "Loss"
    fig = _Fig(title if legend else f"{title}: train ─, test - -", height,
               dict(legend=dict(orientation="h", x=1, xanchor="right", y=1.1, yanchor="bottom"),
                    showlegend=legend, margin=dict(l=60, r=20, t=80, b=45)))
    fig.grid(panels, panels, ["loss", "accuracy"][:panels], gap=0.14)
    curves = [("train_loss", "train", 0, "solid"), ("test_loss", "test", 0, "dash")]
    if classify:
        curves += [("train_accuracy", "train", 1, "solid"), ("test_accuracy", "test", 1, "dash")]
    for name, label, panel, dash in curves:
        values = history.metric(name, run)[rows]
        if np.isnan(values).all():
            continue
        fig.traces.append(dict(
            type="scatter", x=steps, y=f32(values), mode="lines" if len(steps) > 1 else "markers", name=label,
            legendgroup=label, showlegend=panel == 0, xaxis=axis_name("x", panel), yaxis=axis_name("y", panel),
            line=dict(color=POSITIVE if label == "train" else NEGATIVE, dash=dash, width=3),
            marker=dict(color=POSITIVE if label == "train" else NEGATIVE, size=9),
            hovertemplate=f"{label} {name.split('_')[1]}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>",
        ))
    for panel in range(panels):
        fig.axis(axis_name("xaxis", panel), title=dict(text="step", standoff=4))
    if classify:
        fig.axis("yaxis2", range=[0, 1.02])
    fig.step_axes(history, row, panels)
    return fig


# ------------------------------------------------------------------ 6. network diagram
def _node_positions(sizes: Sequence[int]) -> list[np.ndarray]:
    """y of each node, per layer, centred on 0.5 with equal spacing (the widest layer fills [0, 1])."""
    gap = 1.0 / max(max(sizes) - 1, 1)
    return [0.5 + ((n - 1) / 2 - np.arange(n)) * gap for n in sizes]


def network_figure(history: History, run: int = 0, row: int | None = None, tol: float = 1e-6,
                   names: Sequence[str] | None = None, outputs: Sequence[str] | None = None,
                   height: int = 480, width_bins: int = 6) -> go.Figure:
    """The network at the row: edge colour by sign (blue +, vermillion −), width by magnitude.

    Hidden neurons of one group (identical within tol) share a colour and a label.
    """
    row = _clamp_row(history, row)
    sizes = history.layout.sizes
    ys = _node_positions(sizes)
    layers = [history.neuron_vectors(layer, run)[row] for layer in range(history.layout.n_layers)]
    biggest = max(float(np.abs(v[:, :-1]).max()) for v in layers) or 1.0
    fig = _Fig(f"The network at step {int(history.steps[row]):,}: blue +, vermillion −, thicker = larger",
               height, dict(showlegend=False, margin=dict(l=20, r=20, t=60, b=20)))
    buckets: dict[tuple[str, int], list[float]] = {}
    mids_x, mids_y, mids_text = [], [], []
    for layer, vectors in enumerate(layers):
        for j, neuron in enumerate(vectors):
            for i, w in enumerate(neuron[:-1].tolist()):
                colour = POSITIVE if w > 0 else NEGATIVE if w < 0 else NEUTRAL
                level = min(width_bins - 1, int(abs(w) / biggest * width_bins))
                buckets.setdefault((colour, level), []).extend(
                    [layer, ys[layer][i], layer + 1, ys[layer + 1][j], np.nan, np.nan])
                mids_x.append(layer + 0.5)
                mids_y.append((ys[layer][i] + ys[layer + 1][j]) / 2)
                mids_text.append(f"w = {w:.4g}")
    for (colour, level), coords in buckets.items():
        pts = np.asarray(coords).reshape(-1, 2)
        fig.traces.append(dict(type="scatter", x=f32(pts[:, 0]), y=f32(pts[:, 1]), mode="lines",
                               hoverinfo="skip", opacity=0.75,
                               line=dict(color=colour, width=0.8 + 9 * (level + 0.5) / width_bins)))
    if len(mids_x) <= 400:
        fig.traces.append(dict(type="scatter", x=mids_x, y=mids_y, mode="markers", text=mids_text,
                               marker=dict(size=8, opacity=0), hovertemplate="%{text}<extra></extra>"))
    node_size = max(12, min(34, int(340 / max(sizes))))
    for layer, size in enumerate(sizes):
        colours = [NEUTRAL] * size
        if layer == 0:
            texts, position = input_names(history, 0, names), "middle left"
        elif layer == len(sizes) - 1:
            texts = [label_text(o) for o in outputs] if outputs is not None and len(outputs) == size else ["output"] * size
            position = "middle right"
        else:
            texts, position = [""] * size, "middle right"
            for members in groups(layers[layer - 1], tol):
                for m in members:
                    colours[m] = neuron_color(members[0])
                texts[members[0]] = group_label(members)
        fig.traces.append(dict(
            type="scatter", x=np.full(size, layer, dtype=np.float32), y=f32(ys[layer]), mode="markers+text",
            text=texts, textposition=position, textfont=dict(size=FONT_SIZE), hoverinfo="skip",
            marker=dict(size=node_size, color=colours, line=dict(color="#333333", width=1.5)),
        ))
    fig.axis("xaxis", visible=False, range=[-0.9, len(sizes) - 1 + 0.9])
    fig.axis("yaxis", visible=False, range=[-0.08, 1.08])
    return fig.done()


# ------------------------------------------------------------------ 7. the input plane
def _activation_range(activation: str, values: np.ndarray) -> tuple[float, float]:
    if activation == "sigmoid":
        return 0.0, 1.0
    if activation == "tanh":
        return -1.0, 1.0
    m = float(np.abs(values).max()) or 1.0
    return (0.0, m) if activation == "relu" else (-m, m)


def activation_maps_figure(probe: Probe, history: History, row: int | None = None, run: int = 0, layer: int = 0,
                           tol: float = 1e-6, activation: str = "tanh", names: Sequence[str] | None = None,
                           max_panels: int = MAX_PLANE_PANELS, height: int = 420) -> go.Figure:
    """What each hidden neuron computes over the input plane (2 inputs) or along the input (1 input).

    `probe` holds the network's outputs at the row (see `probe.probe`). One panel (2-D) or one curve (1-D)
    per group of identical neurons, labelled '×k'.
    """
    row = _clamp_row(history, row)
    found = groups(history.neuron_vectors(layer, run)[row], tol)
    step = int(history.steps[row])
    acts = probe.layers[layer]
    if probe.ys is None:
        fig = _Fig(f"What each neuron computes at step {step:,} ({layer_title(history, layer)})", height,
                   dict(legend=dict(x=1.01, y=1)))
        for members in found:
            first = members[0]
            fig.traces.append(dict(type="scatter", x=f32(probe.xs), y=f32(acts[:, first]), mode="lines",
                                   name=group_label(members),
                                   line=dict(color=neuron_color(first), dash=neuron_dash(first), width=3)))
        fig.axis("xaxis", title=dict(text=input_names(history, 0, names)[0]))
        fig.axis("yaxis", title=dict(text="activation"))
        return fig.done()
    xs, ys = probe.xs, probe.ys
    shown = found[:max_panels]
    cols = min(len(shown), 4)
    n_rows = -(-len(shown) // cols)
    title = f"What each neuron computes<br>over the input plane at step {step:,}"
    if len(found) > len(shown):
        title += f" (first {len(shown)} of {len(found)} groups)"
    fig = _Fig(title, max(height, 250 * n_rows + 80), dict(margin=dict(l=45, r=20, t=120, b=40)))
    fig.grid(len(shown), cols, [group_label(m) for m in shown], gap=0.05, vgap=0.12)
    zmin, zmax = _activation_range(activation, acts)
    for panel, members in enumerate(shown):
        fig.traces.append(dict(
            type="heatmap", x=f32(xs), y=f32(ys), z=f32(acts[:, members[0]].reshape(len(ys), len(xs))),
            colorscale=SEQUENTIAL, zmin=zmin, zmax=zmax, showscale=panel == 0,
            colorbar=dict(title=dict(text="activation"), len=0.8), xaxis=axis_name("x", panel),
            yaxis=axis_name("y", panel), hovertemplate="(%{x:.2f}, %{y:.2f}): %{z:.3f}<extra></extra>",
        ))
        # Numbers on the outer panels only: the left column and the bottom panel of each column.
        fig.axis(axis_name("xaxis", panel), showgrid=False, showticklabels=panel + cols >= len(shown), nticks=4)
        fig.axis(axis_name("yaxis", panel), showgrid=False, showticklabels=panel % cols == 0, nticks=5)
    return fig.done()


def decision_figure(probe: Probe, data: Dataset, history: History, row: int | None = None,
                    height: int = 420) -> go.Figure:
    """The network's prediction over the input plane (or along the input) with the training data on top.

    `probe` holds the network's outputs at the row (see `probe.probe`); `data` gives the points and names.
    """
    row = _clamp_row(history, row)
    step = int(history.steps[row])
    task = data.task
    pred = probe.prediction
    if probe.ys is None:
        fig = _Fig(f"Prediction at step {step:,}", height, dict(legend=dict(orientation="h", y=-0.2)))
        fig.traces.append(dict(type="scatter", x=f32(data.x_train[:, 0]), y=f32(data.y_train), mode="markers",
                               name="data", marker=dict(color=FAINT, size=6)))
        fig.traces.append(dict(type="scatter", x=f32(probe.xs), y=f32(pred[:, 0]), mode="lines", name="network",
                               line=dict(color=POSITIVE, width=4)))
        fig.axis("xaxis", title=dict(text=label_text(data.feature_names[0])))
        fig.axis("yaxis", title=dict(text=data.target_name))
        return fig.done()
    xs, ys = probe.xs, probe.ys
    fig = _Fig(f"Prediction and decision boundary<br>at step {step:,}", height,
               dict(legend=dict(x=1.02, y=0.0, yanchor="bottom"), margin=dict(l=60, r=20, t=90, b=50)))
    shape = (len(ys), len(xs))
    if task == "binary":
        z, title, zrange, scale = pred[:, 0].reshape(shape), f"P({label_text(data.classes[1])})", (0.0, 1.0), DIVERGING
    elif task == "multiclass":
        z, title, zrange = pred.argmax(-1).reshape(shape), "class", (0, pred.shape[1] - 1)
        scale = [[i / max(pred.shape[1] - 1, 1), OKABE_ITO[i % 8]] for i in range(pred.shape[1])]
    else:
        z, title = pred[:, 0].reshape(shape), data.target_name
        zrange, scale = (float(z.min()), float(z.max())), SEQUENTIAL
    fig.traces.append(dict(type="heatmap", x=f32(xs), y=f32(ys), z=f32(z), colorscale=scale, zmin=zrange[0],
                           zmax=zrange[1], opacity=0.5, showscale=task != "multiclass",  # classes: the legend
                           colorbar=dict(title=dict(text=title), len=0.55, y=1.0, yanchor="top"),
                           hovertemplate="(%{x:.2f}, %{y:.2f}): %{z:.3g}<extra></extra>"))
    if task == "binary":
        fig.traces.append(dict(type="contour", x=f32(xs), y=f32(ys), z=f32(z), showscale=False, hoverinfo="skip",
                               contours=dict(start=0.5, end=0.5, size=1, coloring="none"),
                               line=dict(color="#222222", width=3), name="boundary"))
    if task != "regression":
        labels = data.y_train.astype(int)
        for k, name in enumerate(data.classes):
            pick = labels == k
            colour = (NEGATIVE, POSITIVE)[k] if task == "binary" else OKABE_ITO[k % 8]
            fig.traces.append(dict(
                type="scatter", x=f32(data.x_train[pick, 0]), y=f32(data.x_train[pick, 1]), mode="markers",
                name=label_text(name), marker=dict(color=colour, size=9, symbol=SYMBOLS[k % len(SYMBOLS)],
                                       line=dict(color="#222222", width=1)),
            ))
    fig.axis("xaxis", title=dict(text=label_text(data.feature_names[0])), range=[float(xs[0]), float(xs[-1])],
             showgrid=False)
    fig.axis("yaxis", title=dict(text=label_text(data.feature_names[1])), range=[float(ys[0]), float(ys[-1])],
             showgrid=False)
    return fig.done()


# ------------------------------------------------------------------ 8. gradients
def gradient_figure(history: History, layer: int = 0, run: int = 0, row: int | None = None,
                    tol: float = 0.0, names: Sequence[str] | None = None, height: int = 430) -> go.Figure:
    """Each neuron's gradient (rows) per incoming weight and bias (columns) at the row.

    The gradient stored at a row is the one of the update that led there, so
    row 0 has none. A row equal to an earlier one within `tol` (bitwise by
    default) is labelled 'n2 = n1'.
    """
    row = _clamp_row(history, row)
    step = int(history.steps[row])
    grads = history.neuron_vectors(layer, run, grads=True)[row]
    n = grads.shape[0]
    sources = input_names(history, layer, names) + ["bias"]
    same = {m: members[0] for members in groups(grads, tol) for m in members[1:]}
    labels = [f"n{i + 1} = n{same[i] + 1}" if i in same else f"n{i + 1}" for i in range(n)]
    if step == 0:
        title = "Gradient at step 0: no update has happened yet"
    else:
        title = f"Gradient of the update that led to step {step:,} ({layer_title(history, layer)})"
    fig = _Fig(title, max(height, 34 * n + 160), dict(margin=dict(l=110, r=20, t=100, b=50)))
    biggest = float(np.abs(grads).max()) or 1.0
    text = [[f"{v:.2e}" for v in line] for line in grads] if n * len(sources) <= 80 else None
    fig.traces.append(dict(
        type="heatmap", z=grads, x=sources, y=labels, colorscale=DIVERGING, zmin=-biggest, zmax=biggest, text=text,
        texttemplate="%{text}" if text else None, textfont=dict(size=FONT_SIZE - 3),
        colorbar=dict(title=dict(text="gradient")), hovertemplate="%{y}, %{x}: %{z:.4g}<extra></extra>",
    ))
    fig.axis("yaxis", autorange="reversed", showgrid=False, type="category")
    fig.axis("xaxis", showgrid=False, side="top", type="category")
    if same:
        how = "to the last bit" if tol == 0 else f"within {tol:g}"
        fig.layout["annotations"].append(dict(
            text=f"'n2 = n1': n2 gets the same gradient as n1, {how}", xref="paper", yref="paper", x=0, y=0,
            yanchor="top", xanchor="left", yshift=-8, showarrow=False, font=dict(size=FONT_SIZE - 1, color="#444444")))
    return fig.done()
