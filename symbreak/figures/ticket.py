"""Figures of the lottery-ticket lesson: test accuracy against the weights left (log axis, with each seed's
range), and a ticket drawn as a network whose kept weights are lines as thick as they are large."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from symbreak.figures.style import FRAMED_TEMPLATE, NEGATIVE, NEUTRAL, OKABE_ITO, POSITIVE
from symbreak.lessons.ticket import DENSE, FRESH, TICKET

CURVES = ((TICKET, OKABE_ITO[3], "solid"), (FRESH, OKABE_ITO[0], "dash"), (DENSE, "#444444", "dot"))
MAX_LINE_WIDTH = 6.0
LAYER_NAMES = ("inputs", "hidden", "output")


def _fill(hex_colour: str, alpha: float = 0.18) -> str:
    red, green, blue = (int(hex_colour[i: i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def accuracy_figure(summary: pd.DataFrame, seeds: int, height: int = 440) -> go.Figure:
    """Mean test accuracy against the share of weights left (log x), each with a band from its lowest to its
    highest seed: the ticket, the same mask from a fresh start, and the dense network."""
    fig = go.Figure()
    x = summary["weights left"].to_numpy()
    for name, colour, dash in CURVES:
        low, high = summary[f"{name} min"].to_numpy(), summary[f"{name} max"].to_numpy()
        fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([high, low[::-1]]),
                                 fill="toself", fillcolor=_fill(colour), line=dict(width=0), hoverinfo="skip",
                                 showlegend=False, name=f"{name} range"))
        fig.add_trace(go.Scatter(
            x=x, y=summary[f"{name} mean"], mode="lines+markers", name=name, line=dict(color=colour, width=3,
                                                                                      dash=dash),
            marker=dict(size=8), customdata=np.column_stack([low, high]),
            hovertemplate=f"{name}: %{{x:.1%}} of the weights, test %{{y:.1%}} "
                          "(seeds %{customdata[0]:.0%}–%{customdata[1]:.0%})<extra></extra>"))
    fig.update_xaxes(type="log", autorange="reversed", title_text="weights left (log scale)", tickformat=".0%",
                     tickvals=[1.0, 0.5, 0.2, 0.1, 0.05])
    fig.update_yaxes(title_text="test accuracy", tickformat=".0%")
    fig.update_layout(template=FRAMED_TEMPLATE, height=height,
                      title=dict(text=f"Pruned and retrained: mean and range over {seeds} seeds", x=0, xanchor="left"),
                      legend=dict(orientation="h", x=0, y=-0.22, yanchor="top"),
                      margin=dict(l=70, r=20, t=70, b=110))
    return fig


def _column(n: int) -> np.ndarray:
    """Heights of n nodes spread over [0, 1], centred."""
    return np.array([0.5]) if n == 1 else np.linspace(0.0, 1.0, n)


def network_figure(layers: Sequence[tuple[np.ndarray, np.ndarray]], title: str, height: int = 460) -> go.Figure:
    """A network with one hidden layer as nodes in columns; each kept weight (mask 1) a line from its input to its
    neuron, as thick as its magnitude, blue if positive and vermilion if negative. Pruned weights are not drawn,
    and a hidden neuron left with no line in or out is grey."""
    (w1, m1), (w2, m2) = layers
    sizes = (w1.shape[1], w1.shape[0], w2.shape[0])
    ys = [_column(n) for n in sizes]
    biggest = max(float(np.abs(w * m).max()) for w, m in layers) or 1.0
    fig = go.Figure()
    for column, (weight, mask) in enumerate(layers):
        for sign, colour in ((1, POSITIVE), (-1, NEGATIVE)):
            for out, inp in zip(*np.nonzero((mask == 1) & (np.sign(weight) == sign))):
                size = abs(float(weight[out, inp]))
                fig.add_trace(go.Scatter(
                    x=[column, column + 1], y=[ys[column][inp], ys[column + 1][out]], mode="lines",
                    line=dict(color=colour, width=0.5 + MAX_LINE_WIDTH * size / biggest), showlegend=False,
                    hovertemplate=f"{LAYER_NAMES[column]} {inp + 1} → {LAYER_NAMES[column + 1]} {out + 1}: "
                                  f"{weight[out, inp]:+.3f}<extra></extra>"))
    used = (m1.sum(1) > 0) & (m2.sum(0) > 0)
    for column, n in enumerate(sizes):
        colours = [POSITIVE if column != 1 or used[j] else NEUTRAL for j in range(n)]
        fig.add_trace(go.Scatter(x=[column] * n, y=ys[column], mode="markers", showlegend=False,
                                 marker=dict(size=12 if column != 1 else 9, color=colours,
                                             line=dict(color="#222222", width=1)), customdata=np.arange(1, n + 1),
                                 hovertemplate=f"{LAYER_NAMES[column]} %{{customdata}}<extra></extra>"))
    fig.update_xaxes(tickvals=[0, 1, 2], ticktext=list(LAYER_NAMES), range=[-0.2, 2.2], showgrid=False)
    fig.update_yaxes(visible=False, range=[-0.05, 1.05])
    fig.update_layout(template=FRAMED_TEMPLATE, height=height, title=dict(text=title, x=0, xanchor="left"),
                      margin=dict(l=20, r=20, t=70, b=50))
    return fig
