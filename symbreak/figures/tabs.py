"""Plotly figures of the views beside the live chart (the Playground's tabs, and Compare's rows): the neurons in
weight space, the distances between them, their gradients, the network, and the input plane.

Pure functions of a `History` (and, for the input plane, a `probe.Probe`: the network's outputs over a grid
that the page computes), built from `figure_parts` in `plotting`'s look, like `figures`. `weight_space_json`
(the tab open by default) skips the graph objects and goes straight to figure JSON.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from symbreak.data.dataset import Dataset
from symbreak.engine.history import History
from symbreak.engine.metrics import groups, pairwise_distances
from symbreak.engine.probe import Probe
from symbreak.figures.parts import PRUNED_TEXT, Fig, clamp_row, input_names, label_text, layer_title
from symbreak.figures.style import (
    DIVERGING,
    FAINT,
    FONT_SIZE,
    MAX_POINTS,
    NEGATIVE,
    NEUTRAL,
    OKABE_ITO,
    POSITIVE,
    SEQUENTIAL,
    SYMBOLS,
    axis_name,
    f32,
    group_label,
    neuron_color,
    neuron_dash,
    neuron_symbol,
    thin_rows,
)

MAX_PLANE_PANELS = 12
Y_TITLE_STANDOFF = 10  # px between the weight-space y axis's tick labels and its title


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
                  names: Sequence[str] | None, max_points: int, height: int) -> Fig:
    row = clamp_row(history, row)
    coords, x_title, y_title = weight_space_coordinates(history, layer, run, names)
    rows = thin_rows(row + 1, max_points, keep=(row,))
    found = groups(history.neuron_vectors(layer, run)[row], tol)
    fig = Fig(f"Neurons in weight space at step {int(history.steps[row]):,} ({layer_title(history, layer)})",
               height, dict(legend=dict(x=1.01, y=1)))
    for members in found:
        first, label = members[0], group_label(members)
        fig.traces.append(dict(
            type="scatter", x=f32(coords[rows, first, 0]), y=f32(coords[rows, first, 1]), mode="lines",
            legendgroup=label, showlegend=False, hoverinfo="skip",
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
    # Near a tie the y ticks need many digits (0.4995): the title keeps its distance from them, and the margin
    # grows to hold both (this tab is not redrawn while playing, so the margin may change between draws).
    fig.axis("yaxis", title=dict(text=y_title, standoff=Y_TITLE_STANDOFF), automargin=True,
             range=_padded_range(coords[..., 1]))
    return fig


# ------------------------------------------------------------------ 4. distances
def distance_figure(history: History, layer: int = 0, run: int = 0, row: int | None = None,
                    height: int = 480) -> go.Figure:
    """Heatmap of the distance between every pair of neurons at the row; exactly 0 means identical."""
    row = clamp_row(history, row)
    dist = pairwise_distances(history.neuron_vectors(layer, run)[row])
    n = len(dist)
    labels = [f"n{i + 1}" for i in range(n)]
    fig = Fig(f"Distance between neurons at step {int(history.steps[row]):,} (0 = identical)", height,
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


# ------------------------------------------------------------------ 6. network diagram
def _node_positions(sizes: Sequence[int]) -> list[np.ndarray]:
    """y of each node, per layer, centred on 0.5 with equal spacing (the widest layer fills [0, 1])."""
    gap = 1.0 / max(max(sizes) - 1, 1)
    return [0.5 + ((n - 1) / 2 - np.arange(n)) * gap for n in sizes]


def network_figure(history: History, run: int = 0, row: int | None = None, tol: float = 1e-6,
                   names: Sequence[str] | None = None, outputs: Sequence[str] | None = None,
                   height: int = 480, width_bins: int = 6) -> go.Figure:
    """The network at the row: edge colour by sign (blue +, vermillion −), width by magnitude; a weight pruned by
    a mask is a thin grey dotted line whose hover says so.

    Hidden neurons of one group (identical within tol) share a colour and a label.
    """
    row = clamp_row(history, row)
    sizes = history.layout.sizes
    ys = _node_positions(sizes)
    layers = [history.neuron_vectors(layer, run)[row] for layer in range(history.layout.n_layers)]
    cut = [history.pruned_weights(layer, run) for layer in range(history.layout.n_layers)]
    biggest = max(float(np.abs(v[:, :-1]).max()) for v in layers) or 1.0
    title = f"The network at step {int(history.steps[row]):,}: blue +, vermillion −, thicker = larger"
    fig = Fig(title + (", dotted grey = pruned" if any(c.any() for c in cut) else ""), height,
              dict(showlegend=False, margin=dict(l=20, r=20, t=60, b=20)))
    buckets: dict[tuple[str, int], list[float]] = {}
    mids_x, mids_y, mids_text = [], [], []
    for layer, vectors in enumerate(layers):
        for j, neuron in enumerate(vectors):
            for i, w in enumerate(neuron[:-1].tolist()):
                colour = POSITIVE if w > 0 else NEGATIVE if w < 0 else NEUTRAL
                level = -1 if cut[layer][j, i] else min(width_bins - 1, int(abs(w) / biggest * width_bins))
                buckets.setdefault((colour, level), []).extend(
                    [layer, ys[layer][i], layer + 1, ys[layer + 1][j], np.nan, np.nan])
                mids_x.append(layer + 0.5)
                mids_y.append((ys[layer][i] + ys[layer + 1][j]) / 2)
                mids_text.append(PRUNED_TEXT if level < 0 else f"w = {w:.4g}")
    for (colour, level), coords in buckets.items():
        pts = np.asarray(coords).reshape(-1, 2)
        fig.traces.append(dict(type="scatter", x=f32(pts[:, 0]), y=f32(pts[:, 1]), mode="lines",
                               hoverinfo="skip",
                               line=dict(color=colour, width=0.8 + 9 * (level + 0.5) / width_bins)))
        if level < 0:
            fig.traces[-1].update(name=PRUNED_TEXT, line=dict(color=NEUTRAL, width=1.5, dash="dot"))
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
    row = clamp_row(history, row)
    found = groups(history.neuron_vectors(layer, run)[row], tol)
    step = int(history.steps[row])
    acts = probe.layers[layer]
    if probe.ys is None:
        fig = Fig(f"What each neuron computes at step {step:,} ({layer_title(history, layer)})", height,
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
    fig = Fig(title, max(height, 250 * n_rows + 80), dict(margin=dict(l=45, r=20, t=120, b=40)))
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
    row = clamp_row(history, row)
    step = int(history.steps[row])
    task = data.task
    pred = probe.prediction
    if probe.ys is None:
        fig = Fig(f"Prediction at step {step:,}", height, dict(legend=dict(orientation="h", y=-0.2)))
        fig.traces.append(dict(type="scatter", x=f32(data.x_train[:, 0]), y=f32(data.y_train), mode="markers",
                               name="data", marker=dict(color=FAINT, size=6)))
        fig.traces.append(dict(type="scatter", x=f32(probe.xs), y=f32(pred[:, 0]), mode="lines", name="network",
                               line=dict(color=POSITIVE, width=4)))
        fig.axis("xaxis", title=dict(text=label_text(data.feature_names[0])))
        fig.axis("yaxis", title=dict(text=data.target_name))
        return fig.done()
    xs, ys = probe.xs, probe.ys
    fig = Fig(f"Prediction and decision boundary<br>at step {step:,}", height,
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
    row = clamp_row(history, row)
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
    fig = Fig(title, max(height, 34 * n + 160), dict(margin=dict(l=110, r=20, t=100, b=50)))
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
