"""Tests for symbreak.figures.live, tab_figures and figure_parts: every builder on small trainers whose neurons are
tied or split.

Figures are checked as data (traces, labels, axes, annotations), without a
browser; each builder's output is also validated by plotly, since the
builders skip plotly's validation for speed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from pages import charts
from symbreak import Config, Trainer, preset
from symbreak.data.csv_files import load_csv
from symbreak.engine import probe as P
from symbreak.engine.metrics import distinct, group_labels, groups, pairwise_distances, symmetry_series
from symbreak.figures import lessons as LF
from symbreak.figures import live as F
from symbreak.figures import parts as FP
from symbreak.figures import style
from symbreak.figures import tabs as T

STEPS = 60
ROOT = Path(__file__).resolve().parent.parent


def trained(flat: dict[str, str] | str, steps: int = STEPS) -> Trainer:
    """A trainer for a preset name or flat settings, after `steps` updates."""
    config = preset(flat) if isinstance(flat, str) else Config.from_flat(flat)
    trainer = Trainer(config)
    trainer.step(steps)
    return trainer


@pytest.fixture(scope="module")
def tied() -> Trainer:
    """The default: 8 sigmoid neurons from a constant start, no dropout: identical forever."""
    return trained("constant")


@pytest.fixture(scope="module")
def split() -> Trainer:
    """The same network with dropout 0.2: the masks split the neurons after one step."""
    return trained("constant-dropout")


@pytest.fixture(scope="module")
def random_start() -> Trainer:
    return trained("random")


def valid(fig: go.Figure) -> go.Figure:
    """The figure itself, after re-building a copy with plotly's validation on (raises on a bad property)."""
    assert isinstance(fig, go.Figure)
    go.Figure(fig.to_dict())
    return fig


def legend_names(fig: go.Figure) -> list[str]:
    return [t.name for t in fig.data if t.showlegend is not False and t.name]


def texts(fig: go.Figure) -> list[str]:
    """The annotations' texts without HTML tags."""
    return [re.sub(r"<[^>]+>", "", a.text) for a in fig.layout.annotations]


# ------------------------------------------------------------------ helpers
def test_group_labels():
    assert style.group_label([3]) == "n4"
    assert style.group_label(list(range(8))) == "n1–8 ×8"
    assert style.group_label([0, 2]) == "n1,n3 ×2"
    assert style.group_label([0, 2, 4, 6, 7]) == "n1,n3,n5,n7,… ×5"
    names = ["class 0", "class 1", "class 2"]
    assert style.group_label([1], names) == "class 1"
    assert style.group_label([0, 1, 2], names) == "class 0–class 2 ×3"
    assert style.group_label([0, 2], names) == "class 0,class 2 ×2"


def test_palette_has_eight_colours_and_extends_with_dashes():
    """Eight colours (Okabe & Ito's hues, darkened to 3:1 on white: tests/test_figures_contrast.py), then dashes."""
    assert {style.neuron_color(i) for i in range(8)} == set(style.OKABE_ITO) and len(set(style.OKABE_ITO)) == 8
    assert len({(style.neuron_color(i), style.neuron_dash(i)) for i in range(32)}) == 32
    assert style.neuron_color(0) == style.neuron_color(8) and style.neuron_dash(0) != style.neuron_dash(8)


@pytest.mark.parametrize("count, budget", [(10, 50), (4096, 1000), (4096, 100), (1001, 1000)])
def test_thin_rows_caps_and_keeps_the_ends(count, budget):
    rows = style.thin_rows(count, budget, keep=(count // 3,))
    assert len(rows) <= budget
    assert rows[0] == 0 and rows[-1] == count - 1 and count // 3 in rows
    assert np.all(np.diff(rows) > 0)


def test_point_budget_shrinks_for_wide_layers():
    assert style.point_budget(8, 3) == style.MAX_POINTS
    assert 100 <= style.point_budget(64, 65) < style.MAX_POINTS


def test_groups_need_equality_at_every_row():
    vectors = np.zeros((3, 3, 2))
    vectors[2, 2, 0] = 1.0  # neuron 3 leaves the others at the last row only
    assert groups(vectors, tol=0.0) == [[0, 1], [2]]
    assert groups(vectors, tol=1.0) == [[0, 1, 2]]
    assert groups(vectors[0], tol=0.0) == [[0, 1, 2]]


def groups_by_hand(vectors: np.ndarray, tol: float) -> list[list[int]]:
    """Neurons i and j are linked when |v_i - v_j| <= tol in every entry of every row; groups are the chains."""
    n = vectors.shape[1]
    linked = [[all(abs(float(a) - float(b)) <= tol for a, b in zip(vectors[:, i].ravel(), vectors[:, j].ravel()))
               for j in range(n)] for i in range(n)]
    group = list(range(n))
    changed = True
    while changed:
        changed = False
        for i in range(n):
            for j in range(n):
                if linked[i][j] and group[j] > group[i]:
                    group[j], changed = group[i], True
    return [[m for m in range(n) if group[m] == g] for g in sorted(set(group))]


def planted(rows: int, neurons: int, dim: int, seed: int) -> np.ndarray:
    """Random neurons [rows, neurons, dim] of which some copy another, some only nearly, some only for a while."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(rows, neurons, dim))
    for neuron in range(1, neurons):
        kind = rng.integers(4)
        source = int(rng.integers(neuron))
        if kind == 1:
            vectors[:, neuron] = vectors[:, source]
        elif kind == 2:
            vectors[:, neuron] = vectors[:, source] + rng.choice([1e-7, 0.2, 0.5]) * rng.normal(size=(rows, dim))
        elif kind == 3:
            vectors[: rows // 2, neuron] = vectors[: rows // 2, source]
    return vectors


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 7), st.integers(1, 5), st.integers(0, 2**31 - 1),
       st.sampled_from([0.0, 1e-6, 0.3]))
def test_groups_match_a_pair_by_pair_reading(rows, neurons, dim, seed, tol):
    vectors = planted(rows, neurons, dim, seed)
    assert groups(vectors, tol) == groups_by_hand(vectors, tol)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 9), st.integers(2, 4), st.integers(0, 2**31 - 1),
       st.sampled_from([0.0, 1e-6, 0.3]))
def test_every_view_of_ties_agrees(rows, neurons, dim, seed, tol):
    """Per row, metrics.groups names the groups of the meter's labels and distinct counts (group_labels, chained
    over a whole history at once); over all rows, the lesson's plane trails are drawn one per metrics.groups group."""
    vectors = planted(rows, neurons, dim, seed).astype(np.float32)
    labels = group_labels(vectors, tol)
    counts = distinct(vectors, tol)
    for t in range(rows):
        found = groups(vectors[t], tol)
        assert found == [[m for m in range(neurons) if labels[t, m] == g] for g in sorted(set(labels[t].tolist()))]
        assert counts[t] == len(found)
    over_all = groups(vectors, tol)
    names = [f"n{i + 1}" for i in range(neurons)]
    plane = LF.plane_figure(vectors, names, "t", tol=tol)
    drawn = [t.name for t in plane.data if t.mode == "lines"]
    assert drawn == [style.group_label(m, names) for m in over_all]


# ------------------------------------------------------------------ headline
def test_summary_of_tied_neurons(tied):
    summary = F.symmetry_summary(tied.history, tol=tied.config.tol)
    assert summary.text == "8 neurons, 1 distinct: identical to the last bit"
    assert (summary.step, summary.neurons, summary.distinct, summary.gap) == (STEPS, 8, 1, 0.0)


def test_summary_of_split_neurons(split):
    summary = F.symmetry_summary(split.history, tol=split.config.tol)
    assert summary.distinct == 8 and summary.gap > 0
    assert "identical" not in summary.text and "8 distinct" in summary.text
    assert F.symmetry_summary(split.history, row=0).text.endswith("identical to the last bit")


# ------------------------------------------------------------------ 1. trajectories
def test_trajectories_draw_tied_neurons_once(tied):
    fig = valid(F.trajectories_figure(tied.history, names=tied.dataset.feature_names))
    assert len(fig.data) == 3  # one group × (2 inputs + bias)
    assert legend_names(fig) == ["n1–8 ×8"]
    assert {t.xaxis for t in fig.data} == {"x", "x2", "x3"}
    assert "temperature (°C)" in " ".join(texts(fig)) and "bias" in " ".join(texts(fig))
    assert list(fig.data[0].x) == list(tied.history.steps)


def test_trajectories_draw_split_neurons_apart(split):
    fig = valid(F.trajectories_figure(split.history))
    assert len(fig.data) == 8 * 3
    assert legend_names(fig) == [f"n{i}" for i in range(1, 9)]
    assert not any("×" in name for name in legend_names(fig))
    assert len({t.line.color for t in fig.data}) == 8


def test_trajectories_mark_the_selected_step(tied):
    fig = F.trajectories_figure(tied.history, row=10)
    marks = [s for s in fig.layout.shapes if s.line.dash == "dot"]
    assert len(marks) == 3 and {s.x0 for s in marks} == {int(tied.history.steps[10])}


def test_trajectories_thin_long_histories():
    trainer = trained("constant", steps=1500)
    assert trainer.history.count > 1000
    fig = F.trajectories_figure(trainer.history, max_points=200, row=777)
    assert all(len(t.x) <= 200 for t in fig.data)
    assert trainer.history.steps[777] in fig.data[0].x and fig.data[0].x[-1] == 1500


def test_trajectories_cap_panels_for_wide_layers():
    trainer = trained({"hidden": "12,4"}, steps=2)
    fig = valid(F.trajectories_figure(trainer.history, layer=1))
    assert len({t.xaxis for t in fig.data}) == F.MAX_PANELS
    assert "5 of 12 inputs shown" in fig.layout.title.text


# ------------------------------------------------------------------ 2. weight space
def test_weight_space_two_inputs_uses_the_raw_weights(tied, split):
    fig = valid(T.weight_space_figure(tied.history, names=tied.dataset.feature_names))
    markers = [t for t in fig.data if t.mode == "markers+text"]
    assert len(markers) == 1 and markers[0].name == "n1–8 ×8" and list(markers[0].text) == ["n1–8 ×8"]
    assert fig.layout.xaxis.title.text == "weight from temperature (°C)"
    weight = tied.history.neuron_vectors(0)[-1, 0, :2]
    assert np.allclose([markers[0].x[0], markers[0].y[0]], weight, atol=1e-6)
    split_fig = T.weight_space_figure(split.history)
    assert len([t for t in split_fig.data if t.mode == "markers+text"]) == 8


def test_weight_space_pca_is_fixed_over_the_history():
    trainer = trained({"dataset": "demand", "init": "xavier_uniform"}, steps=40)
    history = trainer.history
    coords, x_title, _ = T.weight_space_coordinates(history)
    assert coords.shape == (history.count, 8, 2) and x_title == "principal component 1"
    early, late = T.weight_space_figure(history, row=10), T.weight_space_figure(history, row=history.count - 1)
    assert early.layout.xaxis.range == late.layout.xaxis.range
    assert early.layout.yaxis.range == late.layout.yaxis.range
    marker = next(t for t in early.data if t.mode == "markers+text" and t.name == "n1")
    trail = next(t for t in late.data if t.mode == "lines" and t.line.color == marker.marker.color)
    assert (marker.x[0], marker.y[0]) == (trail.x[10], trail.y[10])


def test_pca_projection_has_unit_components():
    vectors = np.random.default_rng(0).normal(size=(20, 5, 4))
    mean, components = T.pca_projection(vectors)
    assert mean.shape == (4,) and components.shape == (2, 4)
    assert np.allclose(np.linalg.norm(components, axis=1), 1.0)


# ------------------------------------------------------------------ 3. symmetry meter
def test_symmetry_meter_draws_zero_on_a_labelled_floor(tied):
    fig = valid(F.symmetry_figure(tied.history, tol=1e-6))
    assert fig.layout.yaxis.type == "log"
    floor_labels = [a for a in fig.layout.annotations if "identical to the last bit" in a.text]
    assert len(floor_labels) == 1
    line = fig.data[0]
    floor = min(line.y)
    assert np.all(np.asarray(line.y) == floor)  # every gap is exactly 0
    assert floor_labels[0].y == pytest.approx(np.log10(floor))  # log axes place annotations by log10
    assert any("tolerance" in a.text for a in fig.layout.annotations)
    assert fig.layout.yaxis.range[0] < np.log10(floor) < fig.layout.yaxis.range[1]


def test_symmetry_meter_of_split_neurons_leaves_the_floor(split):
    fig = F.symmetry_figure(split.history, tol=0.0)
    line = fig.data[0]
    floor = F.symmetry_floor(np.asarray(line.y))
    on_floor = np.asarray(fig.data[1].y)
    assert on_floor[0] == pytest.approx(line.y[0]) and np.isnan(on_floor[1:]).all()  # only step 0 is tied
    assert all(y > floor for y in line.y[1:])
    assert not any("tolerance" in a.text for a in fig.layout.annotations)
    assert list(line.customdata[-1:]) == [8]
    labels = [a.text for a in fig.layout.annotations]
    assert not any("identical to the last bit" in t for t in labels), "split neurons must not be called identical"
    assert any(t.startswith("floor") for t in labels)
    at_start = F.symmetry_figure(split.history, tol=0.0, row=0)
    assert any("identical to the last bit" in a.text for a in at_start.layout.annotations)


@pytest.mark.parametrize("flat", [{}, {"dropout": "0.2"}, {"hidden": "12,3", "init": "xavier_uniform"},
                                  {"hidden": "9", "perturb": "0.001", "dtype": "float64"}])
def test_kept_symmetry_series_equals_a_fresh_computation(flat):
    """The meter's series, kept per row while the history thins and its tail row is rewritten, is bitwise the
    series computed from scratch over the recorded rows."""
    trainer = Trainer(Config.from_flat(flat), max_rows=24)
    history = trainer.history
    for n in (0, 1, 3, 7, 1, 30, 2, 64, 5, 100):
        trainer.step(n)
        for layer in range(len(trainer.config.model.hidden)):
            for tol in (0.0, trainer.config.tol):
                kept = history.symmetry(layer, tol=tol)
                fresh = symmetry_series(history.neuron_vectors(layer), tol)
                assert all(np.array_equal(a, b) for a, b in zip(kept, fresh)), (n, layer, tol)
    trainer.reset()
    assert [len(a) for a in history.symmetry(0)] == [1, 1]


def test_symmetry_floor_sits_below_the_smallest_gap():
    assert F.symmetry_floor(np.array([0.0, 3e-15, 1.0])) < 3e-15
    assert F.symmetry_floor(np.zeros(3), 64) < F.symmetry_floor(np.zeros(3), 32)


# ------------------------------------------------------------------ 4. distances
def test_distance_heatmap_is_zero_for_tied_neurons(tied, split):
    fig = valid(T.distance_figure(tied.history))
    z = np.asarray(fig.data[0].z)
    assert z.shape == (8, 8) and np.all(z == 0)
    assert fig.data[0].text[0][1] == "0"
    assert fig.data[0].zmax == 1.0  # an ordinary 0-to-1 colour bar, not one that ends at a picometre
    split_fig = T.distance_figure(split.history)
    z_split = np.asarray(split_fig.data[0].z)
    assert split_fig.data[0].zmax == z_split.max()
    assert np.all(np.diag(z_split) == 0) and np.all(z_split[~np.eye(8, dtype=bool)] > 0)
    assert np.allclose(z_split, pairwise_distances(split.history.neuron_vectors(0)[-1]))


# ------------------------------------------------------------------ 5. loss
def test_loss_and_accuracy_for_classification(tied):
    fig = valid(F.loss_figure(tied.history, task=tied.task))
    assert [t.name for t in fig.data] == ["train", "test", "train", "test"]
    assert {t.yaxis for t in fig.data} == {"y", "y2"}
    assert max(fig.data[2].y) <= 1.0


def test_loss_only_for_regression():
    trainer = trained({"dataset": "sine", "lr": "0.1"}, steps=5)
    fig = valid(F.loss_figure(trainer.history, task=trainer.task))
    assert [t.name for t in fig.data] == ["train", "test"] and fig.layout.title.text == "Loss"


# ------------------------------------------------------------------ the live view
def test_live_figure_combines_trajectories_and_meter(tied):
    fig = valid(F.live_figure(tied.history, tol=tied.config.tol, names=tied.dataset.feature_names))
    axes = {t.xaxis for t in fig.data}
    assert axes == {"x", "x2", "x3", "x4"}  # two inputs and the bias, then the meter
    for trace in fig.data:
        assert fig.layout[trace.xaxis.replace("x", "xaxis")].domain is not None
    assert "n1–8 ×8" in [t.name for t in fig.data]
    joined = " ".join(texts(fig))
    for title in ("weights and bias", "Symmetry meter", "identical to the last bit"):
        assert title in joined
    assert "Loss" not in joined  # the loss has its own chart, redrawn less often while playing
    assert fig.layout.yaxis4.type == "log"
    assert all(0.0 <= v <= 1.0 for key in ("xaxis", "xaxis3", "xaxis4") for v in fig.layout[key].domain)
    # The panels do not overlap: each starts after the one to its left ends.
    domains = [fig.layout[f"xaxis{i if i > 1 else ''}"].domain for i in range(1, 5)]
    assert all(left[1] < right[0] for left, right in zip(domains, domains[1:]))


def test_renumber_axis_references():
    assert FP.renumber("x", 3) == "x4"
    assert FP.renumber("y2 domain", 3) == "y5 domain"
    assert FP.renumber("paper", 3) == "paper"
    assert FP.renumber("x", 0) == "x"


# ------------------------------------------------------------------ 6. network
def test_network_colours_edges_by_sign_and_groups_by_colour(random_start, tied):
    fig = valid(T.network_figure(random_start.history, tol=random_start.config.tol))
    edge_colours = {t.line.color for t in fig.data if t.mode == "lines"}
    assert edge_colours == {style.POSITIVE, style.NEGATIVE}
    hidden_nodes = next(t for t in fig.data if t.mode == "markers+text" and t.x[0] == 1)
    assert len(set(hidden_nodes.marker.color)) == 8
    tied_nodes = next(t for t in T.network_figure(tied.history).data if t.mode == "markers+text" and t.x[0] == 1)
    assert len(set(tied_nodes.marker.color)) == 1 and "n1–8 ×8" in tied_nodes.text


# ------------------------------------------------------------------ 7. input plane
def maps(trainer: Trainer, **options) -> go.Figure:
    return T.activation_maps_figure(P.of_run(trainer), trainer.history, activation=trainer.activation, **options)


def decision(trainer: Trainer) -> go.Figure:
    return T.decision_figure(P.of_run(trainer), trainer.dataset, trainer.history)


def test_no_figure_module_imports_the_trainer():
    """The figure modules draw arrays: the forward pass over the plane is the probe's, called by the page."""
    import ast
    import inspect

    for module in (F, LF, style, P, __import__("symbreak.figures.starts", fromlist=["_"])):
        tree = ast.parse(inspect.getsource(module))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "trainer" not in imported and "symbreak.engine.trainer" not in imported, module.__name__


def test_probe_covers_the_data_with_a_margin_row_by_row_along_y(tied):
    data = tied.dataset
    x = np.concatenate([data.x_train, data.x_test])
    seen = []
    probe = P.probe(lambda points: seen.append(points) or tied.layer_outputs(points), x, resolution=5)
    width = x.max(axis=0) - x.min(axis=0)
    assert probe.xs[0] == pytest.approx(x[:, 0].min() - 0.1 * width[0])
    assert probe.ys[-1] == pytest.approx(x[:, 1].max() + 0.1 * width[1])
    points = seen[0]
    # Point k is (x[k % 5], y[k // 5]): the rows of a heatmap's z run along y.
    assert points.shape == (25, 2) and points[7].tolist() == [probe.xs[2], probe.ys[1]]
    np.testing.assert_array_equal(probe.prediction, tied.layer_outputs(points)[-1])
    assert [a.shape[1] for a in probe.layers] == [8, 1]


def test_probe_refuses_data_it_cannot_draw():
    with pytest.raises(ValueError, match="1 or 2 input columns"):
        P.probe(lambda points: [points], np.zeros((4, 3)))


def test_activation_maps_one_panel_per_group(tied, split):
    fig = valid(maps(tied, tol=tied.config.tol))
    assert len(fig.data) == 1 and fig.data[0].type == "heatmap"
    assert "n1–8 ×8" in texts(fig)
    assert len(maps(split).data) == 8


def test_decision_figure_shows_boundary_and_data(tied):
    fig = valid(decision(tied))
    kinds = [t.type for t in fig.data]
    assert kinds[:2] == ["heatmap", "contour"]
    assert [t.name for t in fig.data[2:]] == list(tied.dataset.classes)


def test_one_input_plane_is_a_curve():
    trainer = trained({"dataset": "sine", "lr": "0.1"}, steps=5)
    line = valid(maps(trainer, names=trainer.dataset.feature_names))
    assert all(t.type == "scatter" and t.mode == "lines" for t in line.data)
    assert line.layout.xaxis.title.text == trainer.dataset.feature_names[0]
    prediction = valid(decision(trainer))
    assert [t.name for t in prediction.data] == ["data", "network"]


def test_multiclass_decision_regions():
    trainer = trained("softmax-zero", steps=20)
    fig = valid(decision(trainer))
    assert fig.data[0].zmax == 2 and [t.name for t in fig.data[1:]] == ["0", "1", "2"]


# ------------------------------------------------------------------ 8. gradients
def test_gradients_mark_identical_rows(tied, random_start):
    fig = valid(T.gradient_figure(tied.history))
    labels = list(fig.data[0].y)
    assert labels[0] == "n1" and labels[1:] == [f"n{i} = n1" for i in range(2, 9)]
    assert any("same gradient" in a.text for a in fig.layout.annotations)
    random_labels = list(T.gradient_figure(random_start.history).data[0].y)
    assert not any("=" in label for label in random_labels)


def test_gradient_at_step_zero_is_empty(tied):
    fig = T.gradient_figure(tied.history, row=0)
    assert np.all(np.asarray(fig.data[0].z) == 0)
    assert "no update" in fig.layout.title.text


def test_gradient_of_a_row_is_the_update_that_led_there(tied):
    fig = T.gradient_figure(tied.history, row=5)
    assert np.allclose(fig.data[0].z, tied.history.neuron_vectors(0, grads=True)[5])
    assert re.search(r"led to step 5\b", fig.layout.title.text)


# ------------------------------------------------------------------ layers
def test_output_layer_of_a_net_without_hidden_layer():
    trainer = trained("softmax-zero", steps=10)
    assert FP.layer_title(trainer.history, 0) == "output layer"
    summary = F.symmetry_summary(trainer.history)
    assert summary.neurons == 3 and summary.distinct == 3
    for builder in (F.trajectories_figure, F.symmetry_figure, T.distance_figure, T.gradient_figure):
        valid(builder(trainer.history))


def test_second_hidden_layer_names_its_inputs():
    trainer = trained({"hidden": "3,2", "init": "xavier_uniform"}, steps=3)
    fig = F.trajectories_figure(trainer.history, layer=1)
    assert {"h1", "h2", "h3", "bias"} <= set(texts(fig))
    valid(T.network_figure(trainer.history))


# ------------------------------------------------------------------ figure JSON without graph objects
def plotly_json(fig: go.Figure) -> dict:
    """What plotly writes for the figure after validating it (a bad property raises)."""
    return json.loads(go.Figure(fig.to_dict()).to_json())


@pytest.mark.parametrize("name", ["tied", "split", "random_start"])
def test_hot_figures_as_json_are_what_plotly_writes(name, request):
    trainer = request.getfixturevalue(name)
    history, tol, names = trainer.history, trainer.config.tol, trainer.dataset.feature_names
    for row in (0, 7, None):
        assert json.loads(F.live_json(history, row=row, tol=tol, names=names)) == \
            plotly_json(F.live_figure(history, row=row, tol=tol, names=names))
        assert json.loads(F.loss_json(history, row=row, task=trainer.task, height=300)) == \
            plotly_json(F.loss_figure(history, row=row, task=trainer.task, height=300))
        assert json.loads(T.weight_space_json(history, row=row, tol=tol, names=names)) == \
            plotly_json(T.weight_space_figure(history, row=row, tol=tol, names=names))


def test_figure_json_writes_arrays_as_plotly_does():
    figure = {"data": [
        {"type": "scatter", "x": np.arange(5, dtype=np.int64), "y": np.array([0.5, np.nan, 2, 3, 4], np.float32),
         "customdata": np.array([2**40, 1, 2, 3, 4]), "text": ["a", "b<br>c", "d/e", "f", "g"],
         "marker": {"color": np.array([0, 200, 300, 40000, 7], dtype=np.uint64), "size": np.float64(9)}},
        {"type": "heatmap", "z": np.array([[1.0, np.inf], [-1.0, 0.0]]), "x": np.array([], dtype=np.float64),
         "y": np.array([-3, 3], dtype=np.int16)},
    ], "layout": {"xaxis": {"range": np.array([0.0, 1.5])}, "yaxis": {"range": [np.float64(-1), float("nan")]},
                  "title": {"text": "</script> ×"}, "template": {"layout": {"font": {"size": 16}}}}}
    assert json.loads(FP.figure_json(figure)) == json.loads(go.Figure(figure).to_json())
    assert '"dtype":"i1"' in FP.figure_json(figure)  # int64 steps 0..4 narrowed as plotly does


# ------------------------------------------------------------------ the chart component's wire format
def unshare(value, shared: list):
    """What the component does with an array sent once: a copy back in each place."""
    if isinstance(value, list):
        return [unshare(v, shared) for v in value]
    if isinstance(value, dict):
        if set(value) == {charts.SHARED_KEY}:
            return dict(shared[value[charts.SHARED_KEY]])
        return {k: unshare(v, shared) for k, v in value.items()}
    return value


def test_arrays_shared_by_traces_are_sent_once_and_read_back_whole(split):
    long = trained("constant", steps=1200)
    texts = [F.live_json(long.history, tol=long.config.tol), F.loss_json(long.history, task=long.task),
             F.loss_json(split.history, task=split.task), F.loss_json(split.history, task=split.task, row=3)]
    sent, shared = charts.share_arrays(texts)
    read = [json.loads(s) for s in shared]
    assert [unshare(json.loads(s), read) for s in sent] == [json.loads(t) for t in texts]
    assert len(set(shared)) == len(shared) > 0
    for spec in shared:  # only long arrays, each appearing more than once in what was given
        assert len(spec) >= charts.SHARED_MIN_CHARS and sum(t.count(spec) for t in texts) > 1
        assert all(spec not in s for s in sent)
    assert sum(map(len, sent)) + sum(map(len, shared)) < 0.6 * sum(map(len, texts))
    assert charts.share_arrays(['{"data":[],"layout":{}}']) == (['{"data":[],"layout":{}}'], [])


# ------------------------------------------------------------------ the page that draws them per run
@pytest.mark.parametrize("views", [["What each neuron computes", "Prediction"], ["Network", "Gradients"]])
def test_compare_draws_its_views_for_every_run(views):
    """Compare builds each view it offers, the probed ones too, for both runs of its batched trainer."""
    at = AppTest.from_file(str(ROOT / "pages" / "compare.py"), default_timeout=120).run()
    at.multiselect(key="compare_views").set_value(views).run()
    [step] = [b for b in at.button if b.label == "Step 10"]
    step.click().run()
    assert not at.exception, [e.value for e in at.exception]
    keys = {e.proto.id for e in at.get("bidi_component") if e.proto.component_name == charts.COMPONENT}
    assert len(keys) == 2 * len(views)


def test_names_from_a_users_csv_reach_the_charts_as_text_not_markup():
    """plotly draws <a href>, <b> and <br> in labels: a column or class named with tags must show as typed."""
    link, bold = "<a href='https://example.com'>log in</a>", "<u>big</u>"
    rows = "\n".join(f"{x:.2f},{1 - x:.2f},{'yes' if x > 0.5 else bold}" for x in np.linspace(0, 1, 40))
    config = Config.from_flat({"dataset": "csv", "path": "x.csv", "hidden": "2"})
    trainer = Trainer(config, dataset=load_csv(f"{link},temperature,label\n{rows}".encode(), name="x.csv"))
    trainer.step(3)
    names, outputs = list(trainer.dataset.feature_names), list(trainer.dataset.classes)
    history = trainer.history
    built = [F.live_json(history, 0, names=names), T.weight_space_json(history, 0, names=names),
             T.network_figure(history, names=names, outputs=outputs).to_json(),
             T.decision_figure(P.of_run(trainer), trainer.dataset, history).to_json()]
    for text in built:
        assert "<a href" not in text and "<u>" not in text, text[:300]
    assert any("&lt;a href" in text for text in built), "the name is still shown, as text"
