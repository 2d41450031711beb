"""Plotly figures of a run's live view: pure functions from recorded history to `go.Figure` or figure JSON.

Every builder takes a `History` plus a run and a history row, and returns a figure: the headline, each
neuron's trajectories, the symmetry meter, the live chart that joins those two, and the loss. Nothing here
trains, draws or imports streamlit, so every figure is tested without a browser. The look (palette,
template, panel grid, thinning, group labels) is `plotting`'s, the figure parts `figure_parts`'. Long
histories are thinned to at most `MAX_POINTS` points per trace, so the cost of a redraw does not grow with
the steps trained. Neurons that are identical (within the config's tolerance; bitwise when it is 0; grouped
by `metrics.groups`) are drawn once and labelled with how many they are, e.g. "n1–8 ×8"; a group takes the
colour of its first neuron, so neuron 1 has the same colour in every view (the tabs' views are
`tab_figures`'). A weight pruned by a mask is not a line of its own: each panel draws its pruned weights as one
grey dotted line at 0 with × at its ends, "pruned (masked to 0)".

The figures every Step and Play frame redraws (`live_json`, `loss_json`) skip the graph objects altogether:
their dicts go straight to figure JSON, the same JSON plotly writes for them (the tests compare the two).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from symbreak.engine.history import History
from symbreak.engine.metrics import distinct, gap, groups
from symbreak.figures.describe import group_offsets, run_sentence
from symbreak.figures.parts import PRUNED_TEXT, Fig, clamp_row, combine, input_names, layer_title
from symbreak.figures.style import (
    FONT_SIZE,
    MAX_POINTS,
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    axis_name,
    f32,
    group_label,
    neuron_color,
    neuron_dash,
    thin_rows,
)

MAX_PANELS = 6
IDENTICAL_TEXT = "identical to the last bit"


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
    row = clamp_row(history, row)
    vectors = history.neuron_vectors(layer, run)[row]
    n = vectors.shape[0]
    largest = float(gap(vectors))
    count = int(distinct(vectors, tol))
    if n == 1:
        text = "1 neuron: nothing to compare it with"
    elif largest == 0.0:
        text = f"{n} neurons, 1 distinct: {IDENTICAL_TEXT}"
    elif count == 1:
        text = f"{n} neurons, 1 distinct: equal within the tolerance {tol:g} (largest gap {largest:.1e})"
    elif count == n:
        text = f"{n} neurons, {n} distinct: the symmetry is broken"
    else:
        text = f"{n} neurons, {count} distinct: some are still tied"
    return Summary(int(history.steps[row]), n, count, largest, text)


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
                  names: Sequence[str] | None, max_points: int, height: int) -> Fig:
    row = clamp_row(history, row)
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
    fig = Fig(title, height + (n_rows - 1) * 160,
               dict(legend=dict(x=1.01, y=1, font=dict(size=FONT_SIZE + 2)), margin=dict(l=60, r=10, t=90, b=50)))
    fig.grid(len(shown), cols, [sources[s] for s in shown], gap=0.12, share_x=True)
    for panel in range(len(shown)):
        fig.axis(axis_name("yaxis", panel), nticks=6)
    pruned = np.concatenate([history.pruned_weights(layer, run), np.zeros((vectors.shape[1], 1), bool)], axis=1)
    for members in groups(vectors, tol):
        first, label = members[0], group_label(members)
        drawn = [panel for panel, source in enumerate(shown) if not pruned[members, source].all()]
        for panel in drawn:
            source = shown[panel]
            fig.traces.append(dict(
                type="scatter", x=steps, y=f32(vectors[:, first, source]), name=label, legendgroup=label,
                mode="lines" if len(steps) > 1 else "markers", showlegend=panel == drawn[0],
                xaxis=axis_name("x", panel), yaxis=axis_name("y", panel),
                line=dict(color=neuron_color(first), dash=neuron_dash(first), width=4 if len(members) > 1 else 2.5),
                marker=dict(color=neuron_color(first), size=10),
                hovertemplate=f"{label}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>",
            ))
    _pruned_lines(fig, pruned, [sources[s] for s in shown], shown, steps)
    for panel in range(len(shown)):
        if panel + cols >= len(shown):
            fig.axis(axis_name("xaxis", panel), title=dict(text="step", standoff=4))
    fig.step_axes(history, row, len(shown))
    return fig


def _pruned_lines(fig: Fig, pruned: np.ndarray, titles: Sequence[str], shown: Sequence[int],
                  steps: np.ndarray) -> None:
    """In each panel with pruned weights, one grey dotted line at 0 with × at both ends, named first in the legend
    (once: a long legend is cut short) and in its hover: the neurons whose weight from that input is pruned (their
    numbers in `meta`)."""
    first = True
    for panel, source in enumerate(shown):
        cut = np.nonzero(pruned[:, source])[0]
        if not cut.size:
            continue
        names = ", ".join(f"n{j + 1}" for j in cut[:6]) + (f" and {cut.size - 6} more" if cut.size > 6 else "")
        ends = np.array([steps[0], steps[-1]], dtype=np.int32)
        fig.traces.append(dict(
            type="scatter", x=ends, y=np.zeros(2, dtype=np.float32), mode="lines+markers", name=PRUNED_TEXT,
            legendgroup="pruned", showlegend=first, legendrank=1, xaxis=axis_name("x", panel),
            yaxis=axis_name("y", panel), line=dict(color=NEUTRAL, dash="dot", width=3), cliponaxis=False,
            meta=[int(j) + 1 for j in cut], marker=dict(symbol="x", size=12, color=NEUTRAL),
            hovertemplate=f"{names}: weight from {titles[panel]} {PRUNED_TEXT}<extra></extra>"))
        first = False


# ------------------------------------------------------------------ 1+3. the live view

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
          max_points: int, height: int) -> Fig:
    meter = _symmetry(history, layer, run, row, tol, max_points, height)
    del meter.layout["yaxis"]["title"]  # the part's title names the gap already; the room goes to the legend
    parts = [_trajectories(history, layer, run, row, tol, names, max_points, height), meter]
    top = 1 - 62 / height
    boxes = [(0.0, 0.52, 0.0, top), (0.74, 1.0, 0.0, top)]  # room between for the legend and the meter's ticks
    fig = combine(parts, boxes, height)
    meta = fig.layout["meta"]
    meta["description"] = run_sentence(history, layer, run, row, tol)  # what a screen reader says
    meta["tones"] = group_offsets(history, layer, run, row, tol)  # what the chart's sound plays, when on
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
              height: int) -> Fig:
    row = clamp_row(history, row)
    rows = thin_rows(history.count, max_points, keep=(row,))
    steps = history.steps[rows].astype(np.int32)
    gaps, counts = (series[rows] for series in history.symmetry(layer, run, tol))
    floor = symmetry_floor(gaps, history_bits(history))
    zero = gaps == 0
    fig = Fig("Symmetry meter: largest gap", height,
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
          legend: bool = True) -> Fig:
    """The loss figure; without a legend the title says which line is which (for a narrow box)."""
    row = clamp_row(history, row)
    rows = thin_rows(history.count, max_points, keep=(row,))
    steps = history.steps[rows].astype(np.int32)
    classify = task != "regression"
    panels = 2 if classify else 1
    title = "Loss and accuracy" if classify else "Loss"
    fig = Fig(title if legend else f"{title}: train ─, test - -", height,
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
