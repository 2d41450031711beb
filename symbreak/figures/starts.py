"""Plotly figures of the three lessons about the starting weights: pure functions of arrays and tables.

The look is `plotting`'s, so these lessons look like the rest of the app.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from symbreak.figures.style import DIVERGING, FONT_SIZE, FRAMED_TEMPLATE, NEGATIVE, OKABE_ITO, POSITIVE, f32
from symbreak.lessons.boundary import Boundary
from symbreak.lessons.wasted import RANDOM, TIED

ARM_COLORS = tuple(OKABE_ITO[i] for i in (6, 0, 2, 3))  # black, orange, green, blue: one per network compared
CLASS_SYMBOLS = ("circle", "square")


def _layout(fig: go.Figure, title: str, height: int, **layout: object) -> go.Figure:
    """The app's figure style: large fonts for a projector, white background, a left-aligned title."""
    settings: dict[str, object] = dict(template=FRAMED_TEMPLATE, height=height,
                                       title=dict(text=title, x=0, xanchor="left"), margin=dict(l=70, r=20, t=70, b=60))
    settings.update(layout)
    fig.update_layout(**settings)
    return fig


def _points(fig: go.Figure, x: np.ndarray, y: np.ndarray, classes: Sequence[str]) -> None:
    """The data as markers, one trace per class."""
    for k, name in enumerate(classes):
        pick = y.astype(int) == k
        fig.add_trace(go.Scatter(x=f32(x[pick, 0]), y=f32(x[pick, 1]), mode="markers", name=name,
                                 marker=dict(color=(NEGATIVE, POSITIVE)[k], size=7, symbol=CLASS_SYMBOLS[k],
                                             line=dict(color="#222222", width=1))))


def data_figure(x: np.ndarray, y: np.ndarray, classes: Sequence[str], title: str, height: int = 420) -> go.Figure:
    """The training points of a 2-input binary task, before anything is trained."""
    fig = go.Figure()
    _points(fig, np.asarray(x), np.asarray(y), classes)
    fig.update_xaxes(constrain="domain")
    fig.update_yaxes(scaleanchor="x", scaleratio=1, constrain="domain")  # a circle drawn round, not stretched
    return _layout(fig, title, height, legend=dict(orientation="h", y=-0.15))


def boundaries_figure(boundaries: Mapping[str, Boundary], titles: Sequence[str], classes: Sequence[str],
                      cols: int | None = None, panel_height: int = 300) -> go.Figure:
    """One panel per network, `cols` to a row: its probability of class 1 over the plane, the 0.5 boundary, the data."""
    names = list(boundaries)
    cols = cols or len(names)
    rows = -(-len(names) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(titles), horizontal_spacing=0.06,
                        vertical_spacing=0.16 if rows > 1 else 0.0)
    for i, name in enumerate(names):
        b, row, col = boundaries[name], i // cols + 1, i % cols + 1
        where = dict(row=row, col=col)
        fig.add_trace(go.Heatmap(x=f32(b.xs), y=f32(b.ys), z=f32(b.prob), colorscale=DIVERGING, zmin=0, zmax=1,
                                 opacity=0.55, showscale=i == 0, colorbar=dict(title=dict(text=f"P({classes[1]})"),
                                                                                len=0.6, thickness=14),
                                 hovertemplate="(%{x:.2f}, %{y:.2f}): %{z:.2f}<extra></extra>"), **where)
        fig.add_trace(go.Contour(x=f32(b.xs), y=f32(b.ys), z=f32(b.prob), showscale=False, hoverinfo="skip",
                                 contours=dict(start=0.5, end=0.5, size=1, coloring="none"),
                                 line=dict(color="#222222", width=3), showlegend=False), **where)
        _points_at(fig, b, classes, where, legend=i == 0)
        # Equal scales on both axes, so a ring is drawn as a ring; the panel shrinks to fit instead.
        fig.update_xaxes(range=[float(b.xs[0]), float(b.xs[-1])], showgrid=False, nticks=4, constrain="domain",
                         **where)
        fig.update_yaxes(range=[float(b.ys[0]), float(b.ys[-1])], showgrid=False, nticks=5, constrain="domain",
                         scaleanchor=f"x{i + 1 if i else ''}", scaleratio=1, **where)
    fig.update_annotations(font_size=FONT_SIZE - 1)
    return _layout(fig, "", panel_height * rows + 90, margin=dict(l=50, r=20, t=70, b=40),
                   legend=dict(orientation="h", x=0, y=-0.06 if rows > 1 else -0.12, yanchor="top"))


def _points_at(fig: go.Figure, b: Boundary, classes: Sequence[str], where: dict[str, int], legend: bool) -> None:
    for k, name in enumerate(classes):
        pick = b.y_train.astype(int) == k
        fig.add_trace(go.Scatter(x=f32(b.x_train[pick, 0]), y=f32(b.x_train[pick, 1]), mode="markers", name=name,
                                 legendgroup=name, showlegend=legend,
                                 marker=dict(color=(NEGATIVE, POSITIVE)[k], size=6, symbol=CLASS_SYMBOLS[k],
                                             line=dict(color="#222222", width=1))), **where)


def sweep_figure(sweep: pd.DataFrame, one_neuron: float, height: int = 420) -> go.Figure:
    """Final test accuracy against width, tied and random, with the one-neuron level as a line."""
    fig = go.Figure()
    fig.add_hline(y=one_neuron, line=dict(color="#777777", dash="dot", width=2),
                  annotation_text="one neuron", annotation_position="bottom right")
    for name, colour, dash in ((TIED, ARM_COLORS[1], "solid"), (RANDOM, ARM_COLORS[3], "dash")):
        fig.add_trace(go.Scatter(
            x=sweep["width"], y=sweep[f"{name} test"], mode="lines+markers", name=f"{name} start",
            line=dict(color=colour, width=3, dash=dash), marker=dict(size=9),
            customdata=sweep[f"{name} distinct"],
            hovertemplate="%{x} neurons: %{y:.0%} test accuracy, %{customdata} distinct<extra></extra>"))
    fig.update_xaxes(type="log", title_text="neurons in the hidden layer", tickvals=list(sweep["width"]))
    fig.update_yaxes(title_text="test accuracy", tickformat=".0%", range=[0.4, 1.03])
    return _layout(fig, "Wider helps only if the neurons differ", height,
                   legend=dict(orientation="h", x=0, y=-0.25, yanchor="top"), margin=dict(l=70, r=20, t=70, b=110))


def _positive(values: np.ndarray) -> np.ndarray:
    """Values for a log axis: exact zeros and non-finite values become gaps."""
    out = np.asarray(values, dtype=np.float64).copy()
    out[~(np.isfinite(out) & (out > 0))] = np.nan
    return out


ACT_DECADES = (-3, 1)  # the activations' axis shows at least 0.001 to 10, so moving σ moves the lines, not the axis


def _decades(values: np.ndarray, least: Sequence[int]) -> dict[str, object]:
    """A log axis over whole decades covering the positive values (and at least `least`), ticked at each decade."""
    seen = _positive(values)
    seen = seen[np.isfinite(seen)]
    low, high = ([math.floor(math.log10(seen.min())), math.ceil(math.log10(seen.max()))] if seen.size else [-1, 1])
    if least:
        low, high = min(low, least[0]), max(high, least[1])
    high = max(high, low + 1)
    return dict(type="log", exponentformat="power", range=[low - 0.1, high + 0.1],
                dtick=1 if high - low >= 2 else "D2")


def layer_std_figure(act_std: np.ndarray, grad_std: np.ndarray, labels: Sequence[str], step: int,
                     height: int = 440) -> go.Figure:
    """Std of each hidden layer's activations and of each layer's weight gradient at one step, on log axes.

    act_std [R, L] and grad_std [R, L+1] for R starts. A line falling to the right is a signal that
    fades with depth; rising, one that explodes. Exact zeros cannot sit on a log axis and are left out.
    """
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14,
                        subplot_titles=("activations (forward)", "weight gradients (backward)"))
    depth = act_std.shape[1]
    for r, name in enumerate(labels):
        colour = ARM_COLORS[r % len(ARM_COLORS)]
        for col, values, xs in ((1, act_std[r], np.arange(1, depth + 1)), (2, grad_std[r], np.arange(1, depth + 2))):
            fig.add_trace(go.Scatter(x=xs, y=_positive(values), mode="lines+markers", name=name, legendgroup=name,
                                     showlegend=col == 1, line=dict(color=colour, width=3),
                                     marker=dict(size=8),
                                     hovertemplate=f"{name}, layer %{{x}}: std %{{y:.3g}}<extra></extra>"),
                          row=1, col=col)
    fig.update_yaxes(title_text="std (log)", **_decades(act_std, ACT_DECADES), row=1, col=1)
    fig.update_yaxes(**_decades(grad_std, ()), row=1, col=2)
    fig.update_xaxes(title_text="hidden layer", dtick=1, row=1, col=1)
    fig.update_xaxes(title_text="layer (last = output)", dtick=1, row=1, col=2)
    fig.update_annotations(font_size=FONT_SIZE - 1)
    return _layout(fig, f"How big the signal is in each layer at step {step:,}", height,
                   legend=dict(orientation="h", x=0, y=-0.22, yanchor="top"), margin=dict(l=70, r=20, t=90, b=110))


def histograms_figure(layers: Sequence[np.ndarray], title: str, bins: int = 40, height: int = 300) -> go.Figure:
    """One histogram per hidden layer of one start's activations, all on one x range.

    A shared range is what makes a fading signal visible at a glance: deeper layers shrink to a spike at 0.
    """
    values = [np.asarray(v, dtype=np.float64) for v in layers]
    values = [v[np.isfinite(v)] for v in values]
    pooled = np.concatenate(values) if values else np.zeros(0)
    low, high = (float(pooled.min()), float(pooled.max())) if pooled.size else (-1.0, 1.0)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    fig = make_subplots(rows=1, cols=len(values), subplot_titles=[f"layer {i + 1}" for i in range(len(values))],
                        horizontal_spacing=0.02, shared_yaxes=True)
    for i, v in enumerate(values, start=1):
        counts, _ = np.histogram(v, bins=edges)
        fig.add_trace(go.Bar(x=f32((edges[:-1] + edges[1:]) / 2), y=counts, width=float(edges[1] - edges[0]),
                             marker=dict(color=ARM_COLORS[3], line=dict(width=0)), showlegend=False,
                             hovertemplate="%{x:.3g}: %{y}<extra></extra>"), row=1, col=i)
        fig.update_xaxes(range=[low, high], nticks=3, exponentformat="e", row=1, col=i)
    fig.update_annotations(font_size=FONT_SIZE - 2)
    return _layout(fig, title, height, bargap=0, margin=dict(l=60, r=20, t=80, b=50))


def curves_figure(steps: np.ndarray, values: np.ndarray, labels: Sequence[str], title: str, y_title: str,
                  log_y: bool = False, height: int = 400) -> go.Figure:
    """One line per start over the recorded steps (loss, or the first layer's gap on a log axis)."""
    fig = go.Figure()
    for r, name in enumerate(labels):
        y = _positive(values[r]) if log_y else np.asarray(values[r], dtype=np.float64)
        fig.add_trace(go.Scatter(x=np.asarray(steps), y=y, mode="lines", name=name,
                                 line=dict(color=ARM_COLORS[r % len(ARM_COLORS)], width=3),
                                 hovertemplate=f"{name}, step %{{x:,}}: %{{y:.3g}}<extra></extra>"))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text=y_title, type="log" if log_y else "linear", exponentformat="power")
    return _layout(fig, title, height, legend=dict(orientation="h", x=0, y=-0.25, yanchor="top"),
                   margin=dict(l=70, r=20, t=70, b=110))


def draws_figure(steps: np.ndarray, values: np.ndarray, starts: Sequence[str], title: str, y_title: str,
                 log_y: bool = False, height: int = 400) -> go.Figure:
    """One line per draw over the recorded steps, coloured by its start (`starts[r]` for row r of values [R, T]),
    with one legend entry per start: the spread of a start's lines is how much its draw matters."""
    fig = go.Figure()
    starts = list(starts)
    names = list(dict.fromkeys(starts))
    for r, name in enumerate(starts):
        y = _positive(values[r]) if log_y else np.asarray(values[r], dtype=np.float64)
        first = starts.index(name) == r
        fig.add_trace(go.Scatter(x=np.asarray(steps), y=y, mode="lines", name=name, legendgroup=name,
                                 showlegend=first,
                                 line=dict(color=ARM_COLORS[names.index(name) % len(ARM_COLORS)], width=2),
                                 hovertemplate=f"{name}, step %{{x:,}}: %{{y:.3g}}<extra></extra>"))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text=y_title, type="log" if log_y else "linear", exponentformat="power")
    return _layout(fig, title, height, legend=dict(orientation="h", x=0, y=-0.25, yanchor="top"),
                   margin=dict(l=70, r=20, t=70, b=110))
