"""The parts every figure of a run is built from: `Fig`, a figure as plain dicts; the names on its axes and
legends; `combine`, several figures as one chart; and figure JSON written without plotly's graph objects.

Figures are assembled from plain dicts and validated once at the end (twice as fast as adding graph objects
one by one, which matters at 10 redraws a second). The figures every Step and Play frame redraws skip the
graph objects altogether: their dicts go straight to figure JSON, the same JSON plotly writes for them.
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

from symbreak.engine.history import History
from symbreak.figures.style import FONT_SIZE, MARKER_LINE, TEMPLATE, axis_name, grid

# plotly.js's names of the numpy dtypes it reads from base64 (its "typed array specs").
_TYPED_ARRAY_DTYPES = {"int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4", "uint32": "u4",
                       "float32": "f4", "float64": "f8"}
_NARROWER = {"int64": (np.int8, np.int16, np.int32), "uint64": (np.uint8, np.uint16, np.uint32)}
# Keys whose arrays plotly.py leaves as lists (`_plotly_utils.utils.is_skipped_key`).
_LIST_KEYS = frozenset({"geojson", "layer", "layers", "range"})
PRUNED_TEXT = "pruned (masked to 0)"  # how every chart names a weight that a mask holds at 0


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


def clamp_row(history: History, row: int | None) -> int:
    last = max(history.count - 1, 0)
    return last if row is None else int(min(max(row, 0), last))


_LISTS = ("shapes", "annotations")


@dataclass
class Fig:
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


# ------------------------------------------------------------------ several figures as one
_AXIS_KEY = re.compile(r"^([xy])axis(\d*)$")


def renumber(ref: str, offset: int) -> str:
    """An axis reference shifted by `offset` panels: 'x2' → 'x5', 'y domain' → 'y4 domain'; paper unchanged."""
    base, _, rest = ref.partition(" ")
    if not base or base == "paper":
        return ref
    number = int(base[1:] or 1) + offset
    return f"{base[0]}{number if number > 1 else ''}" + (f" {rest}" if rest else "")


def combine(parts: Sequence[Fig], boxes: Sequence[tuple[float, float, float, float]], height: int) -> Fig:
    """Several figures as one, each in a box (x0, x1, y0, y1) of the plotting area.

    Axes are renumbered, paper coordinates mapped into the box, each part keeps
    its own legend, and its title becomes a bold label over its box. One chart
    instead of two: the browser redraws one element per Play frame. The parts'
    titles, joined, are its name for screen readers (`layout.meta.label`).
    """
    out = Fig("", height, dict(margin=dict(l=60, r=20, t=10, b=45)))
    del out.layout["title"]
    titles = [part.layout.get("title", {}).get("text", "") for part in parts]
    out.layout["meta"] = dict(label="; ".join(t for t in titles if t))
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
            axis["anchor"] = renumber(axis.get("anchor", other + (str(number) if number > 1 else "")), offset)
            if "matches" in axis:
                axis["matches"] = renumber(axis["matches"], offset)
            out.layout[f"{kind}axis{number + offset if number + offset > 1 else ''}"] = axis
        legend = "legend" if index == 0 else f"legend{index + 1}"
        shows_legend = layout.get("showlegend", True) is not False
        if shows_legend:
            given = dict(layout.get("legend", {}))
            given["x"], given["y"] = px(given.get("x", 1.02)), py(given.get("y", 1.0))
            out.layout[legend] = given
        for trace in part.traces:
            trace = dict(trace, xaxis=renumber(trace.get("xaxis", "x"), offset),
                         yaxis=renumber(trace.get("yaxis", "y"), offset))
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
                        item[ref] = renumber(where, offset)
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
