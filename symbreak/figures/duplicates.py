"""Plotly figures of the lesson on near-duplicate neurons: pure functions of its table and of one layer's
pre-activations over the input plane."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from symbreak.figures.style import FAINT, FONT_SIZE, FRAMED_TEMPLATE, NEUTRAL, OKABE_ITO, POSITIVE, f32

PANELS = (("effective width", "distinct features"), ("near-duplicates", "neurons with a near-duplicate"),
          ("dead", "dead neurons"))
# Points of the four arms at one width sit side by side (a fraction of a doubling apart), so their ranges show.
SPREAD = 0.1
MAX_MAPS = 24
ON_SCALE = [[0.0, "#FFFFFF"], [1.0, POSITIVE]]  # off is white, so the black switch-on lines show


def _style(arm: str) -> dict[str, object]:
    """Orange for the small start, blue for He; dashed with dropout."""
    colour = OKABE_ITO[3] if arm.startswith("He") else OKABE_ITO[0]
    return dict(color=colour, width=3, dash="dash" if "dropout" in arm else "solid")


def counts_figure(table: pd.DataFrame, threshold: float, height: int = 500) -> go.Figure:
    """Distinct features, neurons with a near-duplicate and dead neurons against the width, one line per arm:
    the mean over the draws, with bars from the lowest to the highest draw. A dotted line marks 'every neuron'."""
    arms = list(dict.fromkeys(table["arm"]))
    widths = sorted(table["width"].unique())
    fig = make_subplots(rows=1, cols=len(PANELS), subplot_titles=[title for _, title in PANELS],
                        horizontal_spacing=0.08)
    every = np.array(widths, dtype=float)
    for col, (name, _) in enumerate(PANELS, start=1):
        if name != "dead":
            fig.add_trace(go.Scatter(x=every, y=every, mode="lines", name="every neuron", legendgroup="every",
                                     showlegend=col == 1, hoverinfo="skip",
                                     line=dict(color=NEUTRAL, dash="dot", width=2)), row=1, col=col)
        for i, arm in enumerate(arms):
            rows = table[table["arm"] == arm].sort_values("width")
            shift = 2.0 ** (SPREAD * (i - (len(arms) - 1) / 2))
            mean = rows[name].to_numpy(dtype=float)
            fig.add_trace(go.Scatter(
                x=rows["width"].to_numpy(dtype=float) * shift, y=mean, mode="lines+markers", name=arm,
                legendgroup=arm, showlegend=col == 1, line=_style(arm), marker=dict(size=7),
                error_y=dict(type="data", symmetric=False, array=rows[f"{name} high"].to_numpy(dtype=float) - mean,
                             arrayminus=mean - rows[f"{name} low"].to_numpy(dtype=float), thickness=1.5, width=3),
                customdata=np.column_stack([rows["width"], rows[f"{name} low"], rows[f"{name} high"]]),
                hovertemplate=f"{arm}, %{{customdata[0]}} neurons: %{{y:.1f}} "
                              f"(%{{customdata[1]}} to %{{customdata[2]}})<extra></extra>"), row=1, col=col)
        fig.update_xaxes(type="log", tickvals=widths, ticktext=[str(w) for w in widths], title_text="neurons W",
                         row=1, col=col)
    fig.update_yaxes(rangemode="tozero", row=1, col=3)
    fig.update_annotations(font_size=FONT_SIZE - 1)
    fig.update_layout(template=FRAMED_TEMPLATE, height=height,
                      title=dict(text=f"After training: what the neurons do (|cos| > {threshold})", x=0,
                                 xanchor="left"),
                      legend=dict(orientation="h", x=0, y=-0.25, yanchor="top"), margin=dict(l=60, r=20, t=90, b=120))
    return fig


def maps_figure(xs: np.ndarray, ys: np.ndarray, pre: np.ndarray, labels: np.ndarray, points: np.ndarray, title: str,
                cols: int = 6, max_panels: int = MAX_MAPS) -> go.Figure:
    """One panel per group of near-duplicates (largest first), and one for the neurons that have none: where the
    neurons are on over the input plane, with the training points in grey.

    `pre` [len(ys)·len(xs), W] holds each neuron's pre-activation, `labels` [W] its cluster (-1: dead, left out).
    A group's colour is its members' relu output, each scaled to its own largest value (near-duplicates agree
    up to a factor) and averaged; a black line per neuron marks where it switches on.
    """
    found = [np.flatnonzero(labels == c) for c in range(int(labels.max()) + 1)]
    groups = [m for m in found if len(m) > 1]
    alone = np.concatenate([m for m in found if len(m) == 1] or [np.zeros(0, dtype=int)])
    shown = groups[:max_panels - 1 if alone.size else max_panels]
    panels = shown + ([alone] if alone.size else [])
    if not panels:
        fig = go.Figure()
        fig.update_layout(template=FRAMED_TEMPLATE, height=200, title=dict(text=title, x=0, xanchor="left"))
        return fig
    cols = min(cols, len(panels))
    rows = -(-len(panels) // cols)
    names = [f"{len(m)} near-duplicates" for m in shown]
    names += [f"{alone.size} with none" if alone.size > 1 else "1 with none"] if alone.size else []
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, horizontal_spacing=0.03,
                        vertical_spacing=0.12 / max(rows - 1, 1) if rows > 1 else 0.0)
    on = np.maximum(pre, 0.0)
    top = on.max(axis=0)
    scaled = np.divide(on, top, out=np.zeros_like(on), where=top > 0)
    shape = (len(ys), len(xs))
    for i, members in enumerate(panels):
        where = dict(row=i // cols + 1, col=i % cols + 1)
        if i < len(shown):
            fig.add_trace(go.Heatmap(x=f32(xs), y=f32(ys), z=f32(scaled[:, members].mean(axis=1).reshape(shape)),
                                     colorscale=ON_SCALE, zmin=0, zmax=1, showscale=False,
                                     hovertemplate="(%{x:.2f}, %{y:.2f}): %{z:.2f}<extra></extra>"), **where)
        fig.add_trace(go.Scatter(x=f32(points[:, 0]), y=f32(points[:, 1]), mode="markers", hoverinfo="skip",
                                 marker=dict(color=FAINT, size=3)), **where)
        for n in members:
            fig.add_trace(go.Contour(x=f32(xs), y=f32(ys), z=f32(pre[:, n].reshape(shape)), showscale=False,
                                     hoverinfo="skip", contours=dict(start=0, end=0, size=1, coloring="none"),
                                     line=dict(color="#111111", width=1.5)), **where)
    fig.update_xaxes(showticklabels=False, showgrid=False, constrain="domain", ticks="", range=[xs[0], xs[-1]])
    fig.update_yaxes(showticklabels=False, showgrid=False, constrain="domain", ticks="", range=[ys[0], ys[-1]])
    for i in range(len(panels)):
        fig.update_yaxes(scaleanchor=f"x{i + 1 if i else ''}", scaleratio=1, row=i // cols + 1, col=i % cols + 1)
    if len(groups) > len(shown):
        title += f"<br>the {len(shown)} largest of {len(groups)} groups"
    fig.update_annotations(font_size=FONT_SIZE - 2)
    fig.update_layout(template=FRAMED_TEMPLATE, height=160 * rows + 110, showlegend=False,
                      title=dict(text=title, x=0, xanchor="left"), margin=dict(l=20, r=20, t=100, b=20))
    return fig
