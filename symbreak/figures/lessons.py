"""Plotly figures specific to the lessons: pure functions from lesson results to `go.Figure`.

The look is `plotting`'s and the exact-zero floor `figures`', so the lessons look like the Playground.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from symbreak.engine.metrics import groups
from symbreak.figures.live import symmetry_floor
from symbreak.figures.style import (
    FONT_SIZE,
    FRAMED_TEMPLATE,
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    RAMP,
    axis_name,
    grid,
    group_label,
    neuron_color,
)
from symbreak.lessons.no_hidden import NoHidden
from symbreak.lessons.split_speed import SplitSpeed


def _figure(title: str, height: int, **layout: object) -> go.Figure:
    """An empty figure in the app's style: large fonts for a projector, white background."""
    settings: dict[str, object] = dict(template=FRAMED_TEMPLATE, height=height,
                                       title=dict(text=title, x=0, xanchor="left"), margin=dict(l=70, r=20, t=60, b=50))
    settings.update(layout)
    return go.Figure(layout=settings)


# The x axis's tick labels and title reach about 60 px under the plot at FONT_SIZE (measured in Chromium).
LEGEND_BELOW_AXIS = 75  # px from the plot's bottom edge to the top of a legend under that title


def _legend_below(margin: dict[str, int], **legend: object) -> dict[str, object]:
    """Layout settings for a horizontal legend under the x axis's title, clear of it at any width.

    The legend is anchored to the bottom of the whole figure (yref "container"), so plotly reserves its rows
    under the bottom margin: however many rows it wraps into in a narrow column, the plot shrinks instead and
    the legend stays LEGEND_BELOW_AXIS px under the axis, below the title. (A legend placed in the plot's
    paper coordinates moves with the plot's height and ran into the title.)
    """
    return dict(legend=dict(orientation="h", x=0, xanchor="left", yref="container", y=0, yanchor="bottom",
                            **legend),
                margin=dict(margin, b=LEGEND_BELOW_AXIS))


def share_y_range(figures: Sequence[go.Figure]) -> None:
    """Give figures drawn side by side one y range (the union of their explicit ranges), so they compare by eye."""
    ranges = [fig.layout.yaxis.range for fig in figures if fig.layout.yaxis.range is not None]
    if len(ranges) < 2:
        return
    union = [min(r[0] for r in ranges), max(r[1] for r in ranges)]
    for fig in figures:
        if fig.layout.yaxis.range is not None:
            fig.layout.yaxis.range = union


# ---------------------------------------------------------------------------------- lesson 1
TWIN_STYLE = {  # name: (colour of the pair, dash); twins share a colour, neuron 2 is dashed
    "w1": (neuron_color(0), "solid"), "w3": (neuron_color(0), "dash"),
    "w2": (neuron_color(1), "solid"), "w4": (neuron_color(1), "dash"),
    "w5": (neuron_color(3), "solid"), "w6": (neuron_color(3), "dash"),
    "b1": (neuron_color(2), "solid"), "b2": (neuron_color(2), "dash"),
    "b3": (neuron_color(4), "solid"),
}


def twins_figure(series: pd.DataFrame, names: Sequence[str], title: str, y_title: str,
                 height: int = 400) -> go.Figure:
    """Named parameters over steps; a neuron-1 parameter and its neuron-2 twin share a colour
    (neuron 2 dashed), so tied twins draw as one line. The legend sits under the step axis's title."""
    fig = _figure(title, height, **_legend_below(dict(l=70, r=20, t=50)))
    steps = series.index.to_numpy()
    for name in names:
        color, dash = TWIN_STYLE[name]
        fig.add_trace(go.Scatter(
            x=steps, y=series[name].to_numpy(), mode="lines+markers" if len(steps) < 40 else "lines", name=name,
            line=dict(color=color, dash=dash, width=3.5 if dash == "solid" else 2.5), marker=dict(size=5),
            hovertemplate=f"{name}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>",
        ))
    fig.update_xaxes(title_text="step", range=None if steps[-1] >= 10 else [0, 10], rangemode="tozero")
    fig.update_yaxes(title_text=y_title)
    return fig


# ---------------------------------------------------------------------------------- lesson 2
def _wrapped(label: str, width: int = 14) -> str:
    """A panel label broken into lines of about `width` characters, so that neighbouring panels' labels stay
    apart even in a window 1,000 pixels wide (a classroom projector at 1024×768)."""
    return "<br>".join(textwrap.wrap(label, width)) or label


def breaker_figure(table: pd.DataFrame, series: Sequence[np.ndarray], series_steps: Sequence[np.ndarray],
                   cols: int = 5, height: int = 560) -> go.Figure:
    """Small multiples: each intervention's gap over steps on a log axis; exact zero sits on a floor labelled 0."""
    everything = np.concatenate([np.asarray(s) for s in series])
    floor = symmetry_floor(everything, 32)
    top = float(max(everything.max(), floor * 1e3))
    decades = np.arange(np.ceil(np.log10(floor)) + 3, np.floor(np.log10(top)) + 1, 3)
    ticks = [floor, *(10.0 ** decades)]
    labels = ["0", *(f"1e{int(d)}" if d else "1" for d in decades)]
    n = len(series)
    labels_of = [str(label) for label in table["intervention"]]
    layout: dict[str, object] = dict(showlegend=False, margin=dict(l=60, r=10, t=125, b=20))
    grid(layout, n, cols, [_wrapped(label) for label in labels_of], gap=0.02, vgap=0.22,
         title_size=FONT_SIZE - 3, bold=False)
    for i in range(n):
        layout[axis_name("xaxis", i)].update(showticklabels=False, showgrid=False, ticks="")
        layout[axis_name("yaxis", i)].update(
            type="log", range=[np.log10(floor) - 0.5, np.log10(top) + 0.3], tickvals=ticks, ticktext=labels,
            showticklabels=i % cols == 0, gridcolor="#EEEEEE")
    fig = _figure("Gap over steps (log scale; blue: exactly 0)", height, **layout)
    for i in range(n):
        values = np.asarray(series[i], dtype=np.float64)
        zero = values == 0
        tied = bool(zero.all())
        fig.add_trace(go.Scatter(
            x=series_steps[i], y=np.where(zero, floor, values), mode="lines", xaxis=axis_name("x", i),
            yaxis=axis_name("y", i), line=dict(color=POSITIVE if tied else NEGATIVE, width=3),
            hovertemplate=f"{labels_of[i]}<br>step %{{x}}<br>gap %{{y:.3g}}<extra></extra>",
        ))
    return fig


# ---------------------------------------------------------------------------------- lesson 3
def plane_figure(vectors: np.ndarray, labels: Sequence[str], title: str, tol: float = 1e-6,
                 show_centre: bool = False, height: int = 440) -> go.Figure:
    """Trails of rows (class rows or neurons) in the plane of their weights from x1 and x2, from the start
    (a ring) to the end (a dot). Rows identical at every step are drawn once, labelled ×k.
    The legend sits under the x axis's title."""
    fig = _figure(title, height, **_legend_below(dict(l=70, r=10, t=60)))
    for members in groups(vectors, tol):
        first = members[0]
        name = group_label(members, labels)
        color = neuron_color(first)
        xs, ys = vectors[:, first, 0], vectors[:, first, 1]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=color, width=3), name=name,
                                 legendgroup=name, hoverinfo="skip"))
        fig.add_trace(go.Scatter(
            x=[xs[-1]], y=[ys[-1]], mode="markers+text", text=[name], textposition="top center",
            textfont=dict(color=color, size=FONT_SIZE), marker=dict(color=color, size=16 if len(members) > 1 else 12),
            cliponaxis=False, showlegend=False, legendgroup=name,
            hovertemplate=f"{name}<br>(%{{x:.3g}}, %{{y:.3g}})<extra></extra>",
        ))
    start = vectors[0, 0]
    fig.add_trace(go.Scatter(x=[start[0]], y=[start[1]], mode="markers", name="start",
                             marker=dict(symbol="circle-open", size=18, color="#333333", line=dict(width=2)),
                             hovertemplate="start (%{x:.3g}, %{y:.3g})<extra></extra>"))
    if show_centre:
        centre = vectors[-1].mean(axis=0)
        fig.add_trace(go.Scatter(x=[centre[0]], y=[centre[1]], mode="markers", name="average of the rows",
                                 marker=dict(symbol="x", size=16, color="#333333"),
                                 hovertemplate="average (%{x:.2g}, %{y:.2g})<extra></extra>"))
    reach = max(float(np.abs(vectors[..., :2]).max()), 0.5) * 1.25
    fig.update_xaxes(title_text="weight from x1", zeroline=True, zerolinecolor="#BBBBBB", range=[-reach, reach])
    fig.update_yaxes(title_text="weight from x2", zeroline=True, zerolinecolor="#BBBBBB", range=[-reach, reach],
                     scaleanchor="x")
    return fig


def column_sums_figure(result: NoHidden, height: int = 340) -> go.Figure:
    """The three column sums of the softmax weights over steps, against the size of the weights themselves.
    The legend sits under the step axis's title."""
    fig = _figure("Sum over the three class rows, per column", height, **_legend_below(dict(l=80, r=20, t=50)))
    size = np.abs(result.class_rows).max(axis=(1, 2))
    fig.add_trace(go.Scatter(x=result.steps, y=size, mode="lines", name="largest weight (for scale)",
                             line=dict(color=NEUTRAL, width=2, dash="dot")))
    for j, name in enumerate(("from x1", "from x2", "bias")):
        fig.add_trace(go.Scatter(x=result.steps, y=result.column_sums[:, j], mode="lines", name=f"sum {name}",
                                 line=dict(color=neuron_color(j), width=3),
                                 hovertemplate=f"sum {name}<br>step %{{x}}<br>%{{y:.2e}}<extra></extra>"))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="value")
    return fig


# ---------------------------------------------------------------------------------- lesson 4
def _eps_color(i: int, n: int) -> str:
    """Dark for the smallest ε, lighter for the largest (`RAMP`, Cividis-like, every step at least 3:1)."""
    t = i / max(n - 1, 1)
    start, end = ([int(c[k: k + 2], 16) for k in (1, 3, 5)] for c in RAMP)
    r, g, b = (int(round(a + (z - a) * t)) for a, z in zip(start, end))
    return f"rgb({r},{g},{b})"


def split_curves_figure(result: SplitSpeed, height: int = 440) -> go.Figure:
    """The gap between neurons against step on a log axis, one line per ε, with the split threshold dashed.
    The legend sits under the step axis's title."""
    fig = _figure("Gap between neurons against step", height,
                  **_legend_below(dict(l=80, r=10, t=60), title=dict(text="ε ")))
    n = len(result.epsilons)
    for i, (eps, values) in enumerate(zip(result.epsilons, result.gaps)):
        positive = np.where(values > 0, values, np.nan)
        fig.add_trace(go.Scatter(x=result.steps, y=positive, mode="lines", name=f"{eps:.0e}",
                                 line=dict(color=_eps_color(i, n), width=3),
                                 hovertemplate=f"ε = {eps:.0e}<br>step %{{x}}<br>gap %{{y:.3g}}<extra></extra>"))
    fig.add_hline(y=result.threshold, line=dict(color=NEGATIVE, dash="dash", width=2),
                  annotation=dict(text=f"split: gap ≥ {result.threshold:g}", font=dict(color=NEGATIVE)),
                  annotation_position="top left")
    fig.update_yaxes(type="log", title_text="gap (log scale)", exponentformat="power")
    fig.update_xaxes(title_text="step")
    return fig


def split_time_figure(result: SplitSpeed, height: int = 440) -> go.Figure:
    """Step of the split against ln(1/ε), with the least-squares line."""
    fig = _figure("When they split, against ln(1/ε)", height, showlegend=False,
                  margin=dict(l=80, r=20, t=60, b=50))
    x = result.log_inv_eps
    n = len(x)
    fig.add_trace(go.Scatter(
        x=x, y=result.split_steps, mode="markers", customdata=result.epsilons,
        marker=dict(size=14, color=[_eps_color(i, n) for i in range(n)], line=dict(color="#333333", width=1)),
        hovertemplate="ε = %{customdata:.0e}<br>ln(1/ε) = %{x:.1f}<br>split at step %{y}<extra></extra>",
    ))
    if np.isfinite(result.slope):
        line_x = np.array([x.min(), x.max()])
        fig.add_trace(go.Scatter(
            x=line_x, y=result.intercept + result.slope * line_x, mode="lines",
            line=dict(color=POSITIVE, width=3, dash="dash"), hoverinfo="skip",
        ))
        fig.add_annotation(text=f"{result.slope:.1f} more steps per unit of ln(1/ε)<br>"
                                f"correlation {result.correlation:.3f}",
                           xref="paper", yref="paper", x=0.02, y=0.98, xanchor="left", yanchor="top",
                           showarrow=False, align="left", font=dict(color=POSITIVE))
    fig.update_xaxes(title_text="ln(1/ε)")
    fig.update_yaxes(title_text="step of the split", rangemode="tozero")
    return fig

