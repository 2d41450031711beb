"""The three lessons about the starting weights, engine level: deep nets, the published init variances,
and that each lesson's measured outcome is what it claims (no streamlit)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbreak import Config, Trainer
from symbreak.engine import probe
from symbreak.engine.history import DEFAULT_BUDGET_BYTES
from symbreak.engine.metrics import gap
from symbreak.engine.model import Layout, init_params
from symbreak.figures.starts import (
    boundaries_figure,
    curves_figure,
    data_figure,
    draws_figure,
    histograms_figure,
    layer_std_figure,
    sweep_figure,
)
from symbreak.lessons import boundary, course, init_scale
from symbreak.lessons import wasted as tie_lesson
from symbreak.settings.config import ACTIVATIONS, MAX_HIDDEN_LAYERS, MAX_WIDTH
from symbreak.settings.values import ConfigError

torch.set_num_threads(1)
SMALL = {"n_samples": "60", "test_fraction": "0.2"}


# ------------------------------------------------------------------ engine: up to 8 hidden layers
def test_eight_hidden_layers_are_accepted_and_nine_refused_by_name() -> None:
    assert MAX_HIDDEN_LAYERS == 8
    Config.from_flat({"hidden": ",".join(["64"] * 8)})
    with pytest.raises(ConfigError, match=r"^hidden: at most 8 hidden layers \(got 9\)"):
        Config.from_flat({"hidden": ",".join(["4"] * 9)})


deep_tied = st.fixed_dictionaries({
    "hidden": st.lists(st.sampled_from([1, 2, 3, 7, 16, 33, 64]), min_size=4, max_size=MAX_HIDDEN_LAYERS)
    .map(lambda ws: ",".join(map(str, ws))),
    "activation": st.sampled_from(ACTIVATIONS),
    "init": st.sampled_from(["zeros", "constant:0.3", "constant:-0.2", "constant:0.05"]),
    "bias_init": st.sampled_from(["zeros", "constant:0.1"]),
    "optimizer": st.sampled_from(["sgd", "adam"]),
    "lr": st.sampled_from(["0.01", "0.3"]),
    "batch_size": st.sampled_from(["0", "7"]),
    "dataset": st.sampled_from(["coffee", "blobs3", "sine"]),
})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flat=deep_tied, steps=st.integers(1, 8))
def test_deep_symmetric_starts_stay_bitwise_identical_in_every_layer(flat: dict, steps: int) -> None:
    trainer = Trainer(Config.from_flat({**SMALL, **flat}), max_rows=8)
    trainer.step(steps)
    for layer in range(len(trainer.config.model.hidden)):
        assert np.all(gap(trainer.history.neuron_vectors(layer)) == 0.0), f"layer {layer + 1} split"


def test_deepest_widest_history_stays_within_its_memory_budget() -> None:
    config = Config.from_flat({**SMALL, "hidden": ",".join([str(MAX_WIDTH)] * MAX_HIDDEN_LAYERS)})
    trainer = Trainer([config, config.with_flat(seed=1)])
    assert trainer.history.nbytes <= DEFAULT_BUDGET_BYTES * 1.01
    trainer.step(trainer.history.capacity + 5)  # past the capacity: the history thins instead of growing
    assert trainer.history.count <= trainer.history.capacity and trainer.history.stride == 2


# ------------------------------------------------------------------ Xavier and He against their papers
@pytest.mark.parametrize("scheme", ["xavier_normal", "xavier_uniform", "he_normal", "he_uniform"])
def test_init_variances_follow_the_published_rules(scheme: str) -> None:
    """Glorot & Bengio (2010): Var = 2 / (fan_in + fan_out); He et al. (2015): Var = 2 / fan_in.

    Drawn by the engine, measured by NumPy's own variance; 64 × 48 layers give 3,072 weights each,
    eight layers 24,576 weights, so the relative standard error of the pooled estimate is about 1 %.
    """
    sizes = (48, 64, 48, 64, 48, 64, 48, 64, 48)
    layout = Layout(sizes)
    flat = init_params(Config.from_flat({"init": scheme}), layout, torch.Generator().manual_seed(7)).numpy()
    ratios = []
    for w_offset, _, fan_out, fan_in in layout.slices:
        weights = flat[w_offset: w_offset + fan_out * fan_in]
        expected = 2.0 / (fan_in + fan_out) if scheme.startswith("xavier") else 2.0 / fan_in
        assert abs(np.mean(weights)) < 5 * math.sqrt(expected / weights.size)
        ratios.append(np.var(weights) / expected)
        assert init_scale.variance_rule(scheme, fan_in, fan_out) == expected
    assert abs(np.mean(ratios) - 1.0) < 0.05, ratios
    assert all(abs(r - 1.0) < 0.15 for r in ratios), ratios


# ------------------------------------------------------------------ lesson 6: why a tie wastes the network
@pytest.fixture(scope="module")
def wasted() -> tie_lesson.Wasted:
    return tie_lesson.wasted("circles", width=16, steps=300)


def test_tied_layer_is_one_neuron_and_no_better_than_one(wasted: tie_lesson.Wasted) -> None:
    t = wasted.table.set_index("network")
    assert t.loc[tie_lesson.TIED, "neurons"] == 16 and t.loc[tie_lesson.TIED, "effective width"] == 1
    assert t.loc[tie_lesson.ONE, "effective width"] == 1
    assert t.loc[tie_lesson.RANDOM, "effective width"] == 16 and t.loc[tie_lesson.TIED_DROPOUT, "effective width"] == 16
    assert t.loc[tie_lesson.TIED, "test accuracy"] <= t.loc[tie_lesson.ONE, "test accuracy"] + 0.05
    assert t.loc[tie_lesson.RANDOM, "test accuracy"] >= t.loc[tie_lesson.ONE, "test accuracy"] + 0.2
    assert set(wasted.boundaries) == {tie_lesson.ONE, tie_lesson.TIED, tie_lesson.TIED_DROPOUT, tie_lesson.RANDOM}
    assert wasted.boundaries[tie_lesson.TIED].prob.shape == (boundary.GRID, boundary.GRID)


def test_width_sweep_tied_stays_flat_and_random_rises(wasted: tie_lesson.Wasted) -> None:
    sweep = wasted.sweep
    assert list(sweep["width"]) == list(tie_lesson.SWEEP_WIDTHS)
    assert (sweep[f"{tie_lesson.TIED} distinct"] == 1).all()
    assert list(sweep[f"{tie_lesson.RANDOM} distinct"]) == list(tie_lesson.SWEEP_WIDTHS)
    assert sweep[f"{tie_lesson.TIED} test"].max() - sweep[f"{tie_lesson.TIED} test"].min() < 0.15
    assert sweep[f"{tie_lesson.RANDOM} test"].iloc[-1] - sweep[f"{tie_lesson.RANDOM} test"].iloc[0] > 0.2


def test_wasted_sentences_carry_the_measured_numbers(wasted: tie_lesson.Wasted) -> None:
    sentences = tie_lesson.wasted_sentences(wasted)
    t = wasted.table.set_index("network")
    assert len(sentences) == 5
    assert f"{t.loc[tie_lesson.ONE, 'test accuracy']:.0%}" in sentences[0]
    assert "16 tied neurons** end as 1 distinct neuron:" in sentences[1]
    assert f"{t.loc[tie_lesson.RANDOM, 'test accuracy']:.0%}" in sentences[3]


def test_boundary_is_the_probes_plane_through_an_independent_forward_pass() -> None:
    """The plane is the probe's (the Playground's) grid; the probability a NumPy tanh-then-sigmoid pass of the
    run's own weights gives at each point of it."""
    trainer = Trainer([tie_lesson.wasted_config("circles", 3, tie_lesson.RANDOM_INIT, steps=5)] * 2, max_rows=8)
    trainer.step(5)
    b = boundary.boundary(trainer, run=1)
    data = trainer.dataset
    xs, ys, points = probe.plane_grid(np.concatenate([data.x_train, data.x_test]), boundary.GRID)
    assert np.array_equal(b.xs, xs) and np.array_equal(b.ys, ys) and b.prob.shape == (len(ys), len(xs))
    (w1, b1), (w2, b2) = trainer.parameters(1)
    expected = 1 / (1 + np.exp(-(np.tanh(points @ w1.T + b1) @ w2.T + b2)[:, 0]))
    np.testing.assert_allclose(b.prob.ravel(), expected, rtol=1e-5, atol=1e-6)
    # Row j of the grid is y = ys[j]: the point (xs[i], ys[j]) is prob[j, i].
    np.testing.assert_allclose(b.prob[2, 5], expected[2 * len(xs) + 5], rtol=1e-5)
    assert boundary.flat_prediction(b) is None


def test_a_network_with_no_boundary_is_named_flat() -> None:
    zeros = course.course_experiment(steps=50, seeds=(0,)).draw("zeros", 1)[1]
    assert boundary.flat_prediction(zeros) == pytest.approx(float(zeros.prob[0, 0]))  # no hidden signal: one value
    assert boundary.flat_prediction(boundary.Boundary(np.arange(2), np.arange(2), np.array([[0.5, 0.5], [0.5, 0.6]]),
                                          np.zeros((1, 2)), np.zeros(1))) is None


def test_wasted_refuses_a_width_outside_the_engine() -> None:
    with pytest.raises(ValueError, match="width: must be between 2 and 64"):
        tie_lesson.wasted_arms("circles", width=65)


# ------------------------------------------------------------------ lesson 7: how big a random start
@pytest.fixture(scope="module")
def scale() -> init_scale.InitScale:
    return init_scale.init_scale("tanh", sigma=init_scale.SCALE_SIGMA, depth=6, steps=200)


def test_layer_stds_match_an_independent_numpy_forward_pass(scale: init_scale.InitScale) -> None:
    """Step 0's per-layer activation std, recomputed from the drawn weights by NumPy, layer by layer."""
    trainer = Trainer(list(scale.configs.values()))
    for run in range(trainer.k):
        h = trainer.dataset.x_train
        for layer, (w, b) in enumerate(trainer.parameters(run)[:-1]):
            h = np.tanh(h @ w.T + b)
            assert scale.act_std[run, 0, layer] == pytest.approx(h.std(), rel=1e-4, abs=1e-12)


def test_small_start_fades_and_sits_on_a_plateau_while_he_trains(scale: init_scale.InitScale) -> None:
    zero, normal, he = (scale.labels.index(n) for n in (init_scale.ZERO, init_scale.NORMAL, init_scale.HE))
    assert np.all(scale.act_std[zero] == 0.0) and np.all(scale.gap[zero] == 0.0)
    assert init_scale.sigma_label(init_scale.SCALE_SIGMA) == "too small"
    assert init_scale.signal_verdict(scale, normal) == init_scale.FADES
    assert init_scale.signal_verdict(scale, he) == init_scale.HOLDS
    # The small start is nearly tied: its first layer's neurons start closer together than He's.
    assert 0 < scale.gap[normal, 0] < scale.gap[he, 0]
    assert init_scale.leaves_plateau(scale.steps, scale.loss[he]) < init_scale.leaves_plateau(scale.steps, scale.loss[normal])
    assert scale.grad_std.shape == (4, len(scale.steps), 7)
    assert scale.grad_std[normal, 0, 0] < scale.grad_std[he, 0, 0]


def test_too_large_relu_start_blows_up() -> None:
    result = init_scale.init_scale("relu", sigma=3.0, depth=6, steps=2)
    assert init_scale.sigma_label(3.0) == "too large"
    assert init_scale.signal_verdict(result, result.labels.index(init_scale.NORMAL)) == init_scale.GROWS


def test_scale_sentences_name_each_start(scale: init_scale.InitScale) -> None:
    sentences = init_scale.scale_sentences(scale)
    assert [s.split(":**")[0] for s in sentences] == [f"**{n}" for n in scale.labels]
    assert "exactly 0" in sentences[0]


# ------------------------------------------------------------------ lesson 8: the course's experiment
def test_course_data_is_two_noisy_circles() -> None:
    data = course.course_dataset()
    assert data.x_train.shape == (300, 2) and data.x_test.shape == (100, 2)
    radius = np.hypot(*data.x_train.T)
    outer, inner = radius[data.y_train == 0], radius[data.y_train == 1]
    assert abs(outer.mean() - 1.0) < 0.02 and abs(inner.mean() - course.COURSE_FACTOR) < 0.02
    assert 0.03 < outer.std() < 0.07


def test_course_configs_are_the_exercise() -> None:
    configs = course.course_configs()
    assert [c.init.weight for c in configs.values()] == ["zeros", "normal:10", "he_normal"]
    for c in configs.values():
        assert c.model.hidden == (10, 5) and c.model.activation == "relu"
        assert (c.train.optimizer, c.train.lr, c.train.batch_size, c.train.steps) == ("sgd", 0.01, 0, 15_000)
        assert c.train.arithmetic == "blas"  # as the course's NumPy computes


def test_course_draws_each_random_start_over_the_seeds_and_the_zero_start_once() -> None:
    draws = course.course_draws()
    assert [(name, seed) for name, seed, _ in draws] == [("zeros", 0)] + [
        (name, seed) for name in ("N(0, 1)×10", "He") for seed in course.COURSE_SEEDS]
    assert len(course.COURSE_SEEDS) >= 5 and all(c.seed == seed for _, seed, c in draws)
    # One zero draw is all of them: every seed gives the same start.
    layout = Layout((2, *course.COURSE_HIDDEN, 1))
    starts = [init_params(course.course_configs()["zeros"].with_flat(seed=str(s)), layout,
                          torch.Generator().manual_seed(s)) for s in course.COURSE_SEEDS]
    assert all(torch.equal(starts[0], other) for other in starts[1:])


@pytest.fixture(scope="module")
def short_course() -> tuple[course.Course, list[float]]:
    seen: list[float] = []
    return course.course_experiment(steps=1200, seeds=(0, 1, 2), progress=seen.append), seen


def test_course_experiment_short_run_reports_progress_and_measures_each_draw(short_course) -> None:
    result, seen = short_course
    assert seen == [500 / 1200, 1000 / 1200, 1.0]
    runs = result.runs.set_index(["start", "seed"])
    assert len(runs) == 7 and result.loss.shape[0] == 7 and len(result.boundaries) == 7
    assert runs.loc[("zeros", 0), "final loss"] == pytest.approx(math.log(2), abs=1e-3)  # nothing but the bias moves
    assert runs.loc[("zeros", 0), "train accuracy"] == 0.5
    assert (runs.loc["He", "final loss"] < runs.loc[("zeros", 0), "final loss"]).all()
    assert (result.loss[result.runs["start"] == "N(0, 1)×10", 0] > 1.0).all()  # ten times too large starts far off
    assert result.runs[result.runs["start"] == "He"]["test accuracy"].nunique() > 1  # the draw matters


def test_course_table_is_the_draws_mean_and_range_beside_the_courses_numbers(short_course) -> None:
    result, _ = short_course
    table = result.table.set_index("start")
    assert list(table.index) == list(course.COURSE_STARTS) and list(table["draws"]) == [1, 3, 3]
    for name, group in result.runs.groupby("start"):
        for part in ("train", "test"):
            values = group[f"{part} accuracy"]
            assert table.loc[name, f"{part} accuracy"] == pytest.approx(values.mean())
            assert (table.loc[name, f"{part} low"], table.loc[name, f"{part} high"]) == (values.min(), values.max())
        assert (table.loc[name, "course train"], table.loc[name, "course test"]) == course.COURSE_PUBLISHED[name]
    assert course.COURSE_PUBLISHED["N(0, 1)×10"] == (0.83, 0.86)
    sentences = course.course_sentences(result)
    assert sentences[0].startswith("**zeros**, one draw") and "The course printed 50% (the same)" in sentences[0]
    best = str(table["test accuracy"].idxmax())
    assert sentences[-1] == course.best_sentence(result.table) and best in sentences[-1]


def side_by_side(**tests: tuple[float, float, float]) -> pd.DataFrame:
    """A made-up table: start -> (lowest, mean, highest) test accuracy."""
    return pd.DataFrame([{"start": name, "test low": low, "test accuracy": mean, "test high": high}
                         for name, (low, mean, high) in tests.items()])


def test_the_best_start_sentence_is_true_for_what_was_measured() -> None:
    apart = course.best_sentence(side_by_side(zeros=(0.5, 0.5, 0.5), big=(0.53, 0.8, 0.9), He=(0.92, 0.95, 0.98)))
    assert apart.startswith("**He** does best on the test set in every draw: its worst (92%)")
    assert "(big, 90%)" in apart
    overlap = course.best_sentence(side_by_side(zeros=(0.5, 0.5, 0.5), big=(0.53, 0.8, 0.94), He=(0.9, 0.96, 0.98)))
    assert overlap.startswith("**He** does best on the test set on average (96%), but not in every draw")
    assert "big's best (94%)" in overlap
    tie = course.best_sentence(side_by_side(zeros=(0.5, 0.5, 0.5), He=(0.5, 0.5, 0.5)))
    assert tie == "**zeros and He** tie on the test set: 50% on average."


# ------------------------------------------------------------------ figures
def test_figures_draw_from_arrays(wasted: tie_lesson.Wasted, scale: init_scale.InitScale) -> None:
    data = course.course_dataset()
    assert len(data_figure(data.x_train, data.y_train, data.classes, "t").data) == 2
    fig = boundaries_figure(wasted.boundaries, list(wasted.boundaries), ("0", "1"))
    assert sum(tr.type == "heatmap" for tr in fig.data) == 4
    assert len(sweep_figure(wasted.sweep, 0.6).data) == 2
    std = layer_std_figure(scale.act_std[:, 0], scale.grad_std[:, 0], scale.labels, 0)
    zeros = [tr for tr in std.data if tr.name == init_scale.ZERO]
    assert all(np.isnan(np.asarray(tr.y, dtype=float)).all() for tr in zeros)  # exact zeros left off the log axis
    assert std.layout.yaxis.type == "log" and std.layout.yaxis.dtick == 1
    low, high = std.layout.yaxis.range  # at least 0.001 to 10, so a moving σ moves the lines and not the axis
    assert low <= -3 and high >= 1
    finite = scale.act_std[:, 0][scale.act_std[:, 0] > 0]
    assert low <= np.log10(finite.min()) and high >= np.log10(finite.max())
    grads = scale.grad_std[:, 0][scale.grad_std[:, 0] > 0]
    assert std.layout.yaxis2.range[0] <= np.log10(grads.min()) <= np.log10(grads.max()) <= std.layout.yaxis2.range[1]
    assert len(histograms_figure([a[1] for a in scale.first], "t").data) == 6
    assert len(curves_figure(scale.steps, scale.loss, scale.labels, "t", "loss").data) == 4
    lines = draws_figure(np.arange(3), np.ones((4, 3)), ["a", "b", "b", "b"], "t", "loss", log_y=True)
    assert [tr.name for tr in lines.data] == ["a", "b", "b", "b"]
    assert [tr.showlegend for tr in lines.data] == [True, True, False, False]
    assert lines.data[1].line.color == lines.data[3].line.color != lines.data[0].line.color
