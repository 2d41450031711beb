"""Stepping, reset, recording, divergence and init schemes of the trainer."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
import torch

from symbreak import Config, Trainer, preset, run_side_by_side
from symbreak.data.csv_files import load_csv
from symbreak.data.dataset import Dataset
from symbreak.engine.history import METRIC_NAMES
from symbreak.engine.metrics import distinct, gap, group_labels, groups, pairwise_distances
from symbreak.settings.explicit import explicit_json
from symbreak.settings.values import ConfigError

DIVERGING = {"dataset": "sine", "activation": "relu", "lr": "50", "init": "normal:1"}


def test_step_advances_exactly_n_updates_in_chunks() -> None:
    config = Config.from_flat({"init": "xavier_uniform", "batch_size": "50", "dropout": "0.2"})
    whole, chunked = Trainer(config), Trainer(config)
    assert whole.step(60) == 60
    for _ in range(6):
        chunked.step(10)
    assert chunked.step_count == whole.step_count == 60
    assert torch.equal(whole.theta, chunked.theta)


def test_a_time_budget_stops_early_and_slices_add_up_to_the_whole_run() -> None:
    config = Config.from_flat({"init": "xavier_uniform", "dropout": "0.2", "batch_size": "50"})
    sliced, whole = Trainer(config), Trainer(config)
    assert sliced.step(40, seconds=0.0) == 1, "past the budget after the first update"
    assert sliced.history.steps[-1] == 1 and np.isfinite(sliced.history.metric("test_loss")).all()
    while sliced.step_count < 40:
        sliced.step(40 - sliced.step_count, seconds=0.0)
    assert whole.step(40, seconds=60.0) == 40
    assert torch.equal(sliced.theta, whole.theta)
    assert sliced.history.to_frame().query("step == 40").equals(whole.history.to_frame().query("step == 40"))


def test_reset_returns_to_the_same_start_and_replays_the_same_run() -> None:
    trainer = Trainer(Config.from_flat({"init": "he_normal", "dropout": "0.3", "batch_size": "64"}))
    start = trainer.theta.clone()
    trainer.step(25)
    first = trainer.theta.clone()
    trainer.reset()
    assert torch.equal(trainer.theta, start)
    assert trainer.step_count == 0 and trainer.history.count == 1
    trainer.step(25)
    assert torch.equal(trainer.theta, first)


def test_history_rows_hold_params_grads_and_losses() -> None:
    trainer = Trainer(Config.from_flat({"init": "xavier_uniform", "dtype": "float64"}))
    trainer.step(5)
    history = trainer.history
    assert list(history.steps) == [0, 1, 2, 3, 4, 5]
    assert torch.equal(history.params[5, 0], trainer.theta[0])
    assert torch.all(history.grads[0] == 0)
    before = history.params[4, 0]
    lr = trainer.config.train.lr
    assert torch.allclose(history.params[5, 0], before - lr * history.grads[5, 0], rtol=0, atol=1e-15)
    loss, _ = trainer.gradients(history.params[3, 0:1])
    assert history.metric("train_loss")[3] == pytest.approx(float(loss[0]), rel=1e-12)
    assert np.all(np.isfinite(history.metric("test_loss")))
    assert np.all((history.metric("train_accuracy") >= 0) & (history.metric("train_accuracy") <= 1))


def test_history_is_bounded_and_thinned_over_the_whole_run() -> None:
    trainer = Trainer(preset("random"), max_rows=16)
    size = trainer.history.nbytes
    trainer.step(1000)
    steps = trainer.history.steps
    assert trainer.history.count <= 16
    assert trainer.history.nbytes == size
    assert steps[0] == 0 and steps[-1] == 1000
    assert np.all(np.diff(steps) > 0)
    assert steps[-2] >= 1000 - 2 * trainer.history.stride


def test_default_history_cap_fits_the_budget() -> None:
    trainer = Trainer(Config.from_flat({"hidden": "64,64,64", "dataset": "demand"}))
    assert trainer.history.nbytes <= 100 * 2**20
    assert 64 <= trainer.history.capacity <= 4096


def test_history_exports_tidy_frames() -> None:
    trainer = Trainer(preset("constant"))
    trainer.step(3)
    frame = trainer.history.to_frame(input_names=list(trainer.dataset.feature_names))
    assert list(frame.columns) == ["step", "layer", "neuron", "source", "value", "gradient"]
    per_step = 8 * 3 + 1 * 9
    assert len(frame) == 4 * per_step
    hidden = frame[(frame.layer == 1) & (frame.step == 3)]
    assert hidden.groupby("source")["value"].nunique().eq(1).all()
    assert set(hidden.source) == {*trainer.dataset.feature_names, "bias"}
    metrics = trainer.history.metrics_frame()
    assert list(metrics.columns) == ["step", *METRIC_NAMES]
    again = pd.read_csv(io.StringIO(frame.to_csv(index=False)))
    assert len(again) == len(frame)


def test_divergence_stops_keeps_history_and_says_what_to_change() -> None:
    trainer = Trainer(Config.from_flat(DIVERGING))
    done = trainer.step(300)
    assert trainer.diverged
    assert done == trainer.step_count < 300
    assert trainer.diverged_at[0] == trainer.step_count + 1
    assert torch.isfinite(trainer.theta).all()
    assert np.all(np.isfinite(trainer.history.metric("train_loss")))
    assert trainer.history.steps[-1] == trainer.step_count
    message = trainer.divergence_message()
    assert f"diverged at step {trainer.diverged_at[0]}" in message and "learning rate" in message
    assert trainer.step(10) == 0
    trainer.reset()
    assert not trainer.diverged


@pytest.mark.parametrize("flat, warned", [
    ({"init": "xavier_uniform", "lr": "100", "activation": "relu"}, "jumped to"),  # peaks at about 1e15
    ({"init": "xavier_uniform", "lr": "100", "activation": "tanh", "optimizer": "adam"}, "far above"),
    ({"dataset": "sine", "lr": "0.5", "init": "xavier_uniform"}, ""),  # spikes about 30x, then learns
    ({"init": "xavier_uniform", "lr": "1"}, ""),
    (DIVERGING, ""),  # diverged: the error says it, not this warning
])
def test_a_loss_that_blows_up_but_stays_finite_gets_a_warning(flat: dict, warned: str) -> None:
    trainer = Trainer(Config.from_flat(flat))
    trainer.step(300)
    message = trainer.overshoot_message()
    loss = trainer.history.metric("train_loss")
    if not warned:
        assert message == ""
        return
    assert warned in message and f"learning rate (now {flat['lr']})" in message
    assert loss.max() >= 1e3 * loss[0] or loss[-1] >= 10 * loss[0]
    assert not trainer.diverged and np.isfinite(loss).all()


def test_one_diverging_run_does_not_stop_the_others() -> None:
    configs = [Config.from_flat(DIVERGING), Config.from_flat({**DIVERGING, "lr": "0.01"})]
    trainer = Trainer(configs)
    trainer.step(50)
    assert trainer.diverged_at[0] is not None and trainer.diverged_at[1] is None
    assert trainer.step_count == 50
    assert torch.isfinite(trainer.theta).all()


def _csv_dataset(scale: float, standardize: bool, rows: int = 50, test_fraction: float = 0.2) -> Dataset:
    """A regression CSV of two uniform features times scale, target their unscaled sum."""
    x = np.random.default_rng(0).uniform(-1, 1, (rows, 2))
    text = "a,b,y\n" + "".join(f"{a * scale!r},{b * scale!r},{a + b!r}\n" for a, b in x.tolist())
    return load_csv(text.encode(), standardize=standardize, test_fraction=test_fraction)


RELU_CSV = {"dataset": "csv", "init": "xavier_uniform", "activation": "relu", "lr": "0.1", "dtype": "float64"}


@pytest.mark.parametrize("flat, start", [
    ({"dataset": "sine", "init": "constant:100", "activation": "linear", "hidden": "8,8", "lr": "0.1"}, "100"),
    ({"dataset": "sine", "hidden": "2", "activation": "linear", "lr": "0.01",
      "init_weights": explicit_json([([[1e4], [1e4]], [0.0, 0.0]), ([[1e4, 1e4]], [0.0])])}, "1e+04"),
])
def test_divergence_from_huge_starting_weights_names_the_start(flat: dict, start: str) -> None:
    trainer = Trainer(Config.from_flat(flat))
    trainer.step(50)
    assert trainer.diverged
    message = trainer.divergence_message()
    assert f"The starting weights are far from unit scale (up to {start})" in message
    assert "xavier_uniform" in message and "learning rate" not in message and "Standardize" not in message


@pytest.mark.parametrize("scale", [1e3, 1e154, 1e308])
def test_divergence_from_features_far_from_unit_scale_says_standardize_and_standardizing_fixes_it(scale: float) -> None:
    config = Config.from_flat(RELU_CSV)
    trainer = Trainer(config, dataset=_csv_dataset(scale, standardize=False))
    trainer.step(50)
    assert trainer.diverged
    largest = np.abs(trainer.dataset.x_train).max()
    assert largest > 0.9 * scale
    message = trainer.divergence_message()
    assert f"The features are far from unit scale (up to {largest:.3g}): Standardize features" in message
    assert "learning rate" not in message and "starting weights" not in message
    fixed = Trainer(config, dataset=_csv_dataset(scale, standardize=True))
    fixed.step(50)
    assert not fixed.diverged and fixed.final_loss[0] < fixed.history.metric("train_loss")[0]


def test_divergence_with_unit_scale_start_and_data_names_the_learning_rate() -> None:
    trainer = Trainer(Config.from_flat(DIVERGING))
    trainer.step(300)
    message = trainer.divergence_message()
    assert trainer.diverged and np.abs(trainer.dataset.x_train).max() < 2 and trainer.initial.abs().max() < 10
    assert "Lower the learning rate (now 50)" in message
    assert "starting weights" not in message and "features" not in message


def test_standardized_features_with_an_outlier_still_name_the_learning_rate() -> None:
    x = np.random.default_rng(1).normal(0, 1, 200)
    x[0] = 1000.0  # about 14 standard deviations out once standardized
    text = "a,y\n" + "".join(f"{v!r},{math.sin(v)!r}\n" for v in x.tolist())
    dataset = load_csv(text.encode(), standardize=True, test_fraction=0.0)
    assert np.abs(dataset.x_train).max() > 10
    trainer = Trainer(Config.from_flat({**DIVERGING, "dataset": "csv"}), dataset=dataset)
    trainer.step(300)
    assert trainer.diverged and "Lower the learning rate (now 50)" in trainer.divergence_message()


def test_a_finite_blow_up_from_a_huge_start_names_the_start() -> None:
    trainer = Trainer(Config.from_flat({"init": "normal:100", "activation": "relu", "hidden": "16,16", "lr": "0.1"}))
    trainer.step(100)
    message = trainer.overshoot_message()
    assert not trainer.diverged and "jumped to" in message
    assert "the starting weights are far from unit scale" in message and "learning rate" not in message


def test_side_by_side_groups_incompatible_configs() -> None:
    configs = [preset("constant"), preset("random"), Config.from_flat({"optimizer": "adam"}),
               Config.from_flat({"activation": "tanh", "init": "zeros"})]
    placement = run_side_by_side(configs)
    assert placement[0][0] is placement[1][0]
    assert len({id(t) for t, _ in placement}) == 3
    with pytest.raises(ConfigError, match="side by side"):
        Trainer(configs)


@pytest.mark.parametrize("scheme, check", [
    ("xavier_uniform", lambda w, fi, fo: np.abs(w).max() <= math.sqrt(6 / (fi + fo))),
    ("he_uniform", lambda w, fi, fo: np.abs(w).max() <= math.sqrt(6 / fi)),
    ("torch_default", lambda w, fi, fo: np.abs(w).max() <= 1 / math.sqrt(fi)),
    ("xavier_normal", lambda w, fi, fo: abs(w.std() / math.sqrt(2 / (fi + fo)) - 1) < 0.1),
    ("he_normal", lambda w, fi, fo: abs(w.std() / math.sqrt(2 / fi) - 1) < 0.1),
    ("normal:0.3", lambda w, fi, fo: abs(w.std() / 0.3 - 1) < 0.1),
    ("uniform:0.2", lambda w, fi, fo: np.abs(w).max() <= 0.2 and np.abs(w).max() > 0.15),
    ("constant:0.7", lambda w, fi, fo: np.all(w == np.float32(0.7))),
    ("zeros", lambda w, fi, fo: np.all(w == 0)),
])
def test_init_schemes_follow_their_formulas(scheme: str, check) -> None:
    trainer = Trainer(Config.from_flat({"hidden": "64,64", "init": scheme, "dataset": "demand"}))
    weight = trainer.parameters()[1][0]
    assert check(weight, 64, 64)


def test_perturbation_adds_small_noise_to_weights_only() -> None:
    base = Trainer(preset("constant"))
    nudged = Trainer(Config.from_flat({"perturb": "1e-3"}))
    diff = nudged.parameters()[0][0] - base.parameters()[0][0]
    assert 0 < np.abs(diff).max() < 1e-2
    assert np.array_equal(nudged.parameters()[0][1], base.parameters()[0][1])


def test_explicit_weights_must_fit_the_network() -> None:
    with pytest.raises(ConfigError, match=r"layer 0 weight must be \[8×2\]"):
        Trainer(Config.from_flat({"init_weights": preset("tied-221").init.explicit}))


def test_layer_outputs_give_activations_and_probabilities() -> None:
    trainer = Trainer(preset("random"))
    trainer.step(10)
    grid = np.random.default_rng(0).normal(size=(50, 2))
    hidden, prob = trainer.layer_outputs(grid)
    assert hidden.shape == (50, 8) and prob.shape == (50, 1)
    assert np.all((prob > 0) & (prob < 1))
    early = trainer.layer_outputs(grid, row=0)[0]
    assert not np.array_equal(early, hidden)


def test_metrics_on_hand_made_neurons() -> None:
    vectors = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0], [3.0, 4.0 + 1e-9]])
    assert gap(vectors) == pytest.approx(5.0, abs=1e-8)
    assert distinct(vectors, tol=1e-6) == 2
    assert distinct(vectors, tol=0.0) == 3
    assert groups(vectors, tol=1e-6) == [[0, 2], [1, 3]]
    np.testing.assert_array_equal(pairwise_distances(vectors)[0, 2], 0.0)
    chain = np.array([[0.0], [0.6], [1.2]])
    assert group_labels(chain, tol=0.7).tolist() == [0, 0, 0]
    assert gap(np.ones((5, 1, 3))).tolist() == [0.0] * 5


@pytest.mark.parametrize("flat", [
    {"init": "xavier_uniform"},
    {"init": "he_normal", "dropout": "0.3", "batch_size": "32"},
    {"dataset": "blobs3", "hidden": "6,4", "activation": "tanh", "optimizer": "adam"},
])
def test_test_metrics_do_not_depend_on_how_steps_are_grouped(flat: dict) -> None:
    # The test set is scored once per step(n) call for all its rows; max_rows=16 makes the history thin meanwhile.
    config = Config.from_flat(flat)
    whole, single, chunked = (Trainer(config, max_rows=16) for _ in range(3))
    whole.step(90)
    for _ in range(90):
        single.step(1)
    for n in (7, 30, 53):
        chunked.step(n)
    count = whole.history.count
    assert np.all(np.isfinite(whole.history.metrics[:count].numpy()))
    for other in (single, chunked):
        assert np.array_equal(other.history.steps, whole.history.steps)
        assert torch.equal(other.history.params[:count], whole.history.params[:count])
        assert torch.equal(other.history.metrics[:count], whole.history.metrics[:count])


@pytest.mark.parametrize("flat", [
    {"init": "xavier_normal", "activation": "tanh"},
    {"init": "xavier_uniform", "activation": "tanh", "dropout": "0.3", "batch_size": "32"},
    {"dataset": "blobs3", "hidden": "6", "init": "xavier_uniform", "activation": "relu"},
])
def test_train_accuracy_of_every_row_counts_the_right_predictions_at_its_parameters(flat: dict) -> None:
    # Train accuracy is scored after each step(n) call for all its rows; max_rows=16 makes the history thin and
    # rewrite its tail row meanwhile. The reference is a NumPy forward pass at each row's parameters.
    trainer = Trainer(Config.from_flat({**flat, "dtype": "float64"}), max_rows=16)
    for n in (1, 40, 3, 100, 1):
        trainer.step(n)
    history, data = trainer.history, trainer.dataset
    activation = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0)}[trainer.config.model.activation]
    (w1, b1), (w2, b2) = (history.layer_params(layer) for layer in (0, 1))
    accuracy = history.metric("train_accuracy")
    for row in range(history.count):
        out = activation(data.x_train @ w1[row].T + b1[row]) @ w2[row].T + b2[row]
        right, unsure = _right_and_unsure(out, data.y_train, trainer.task)
        assert abs(round(accuracy[row] * len(data.y_train)) - right) <= unsure, row


def _right_and_unsure(out: np.ndarray, y: np.ndarray, task: str) -> tuple[int, int]:
    """How many of NumPy's outputs [N, n_out] predict y, and how many lie within rounding of the decision boundary
    (a logit, or the gap between the top two, below 1e-9 of their size): those may go either way in the engine's
    arithmetic, whose last bits depend on the CPU's kernels."""
    if task == "multiclass":
        top = np.sort(out, -1)
        margin, predicted = top[:, -1] - top[:, -2], out.argmax(-1)
    else:
        margin, predicted = np.abs(out[:, 0]), out[:, 0] > 0
    unsure = int((margin <= 1e-9 * (1 + np.abs(out).max(-1))).sum())
    return int((predicted == y).sum()), unsure


def test_test_metrics_match_numpy() -> None:
    trainer = Trainer(Config.from_flat({"init": "xavier_normal", "activation": "tanh", "dtype": "float64"}))
    trainer.step(40)
    history, data = trainer.history, trainer.dataset
    (w1, b1), (w2, b2) = (history.layer_params(layer) for layer in (0, 1))
    for row in (0, 17, history.count - 1):
        logit = (np.tanh(data.x_test @ w1[row].T + b1[row]) @ w2[row].T + b2[row])[:, 0]
        p = 1.0 / (1.0 + np.exp(-logit))
        y = data.y_test
        loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
        assert history.metric("test_loss")[row] == pytest.approx(loss, rel=1e-10)
        right, unsure = _right_and_unsure(logit[:, None], y, "binary")
        assert abs(round(history.metric("test_accuracy")[row] * len(y)) - right) <= unsure
