"""The product's promise: symmetric starts stay bitwise identical; anything asymmetric splits them."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbreak import Config, Trainer, load_dataset, preset
from symbreak.engine.metrics import distinct, gap
from symbreak.settings.config import ACTIVATIONS, MAX_HIDDEN_LAYERS, OPTIMIZERS

DATASETS = {"coffee": "binary", "demand": "binary", "blobs3": "multiclass", "sine": "regression"}
# `make test` runs the engine's tests again under each ATEN_CPU_CAPABILITY, with fewer examples
EXAMPLES_CAP = int(os.environ.get("SYMBREAK_MAX_EXAMPLES", "300"))
SMALL = {"n_samples": "60", "test_fraction": "0.2"}


def hidden_gaps(trainer: Trainer, run: int = 0) -> list[np.ndarray]:
    """Gap over every recorded row, per hidden layer."""
    return [np.atleast_1d(gap(trainer.history.neuron_vectors(layer, run)))
            for layer in range(len(trainer.config.model.hidden))]


symmetric_configs = st.fixed_dictionaries({
    "dataset": st.sampled_from(sorted(DATASETS)),
    "hidden": st.lists(st.sampled_from([1, 2, 3, 5, 8, 9, 12, 16, 24, 33, 64]), min_size=1, max_size=MAX_HIDDEN_LAYERS)
    .map(lambda ws: ",".join(map(str, ws))),
    "activation": st.sampled_from(ACTIVATIONS),
    "init": st.sampled_from(["zeros", "constant:0.5", "constant:-0.3", "constant:1.7", "constant:0.05"]),
    "bias_init": st.sampled_from(["zeros", "constant:0.2", "constant:-1"]),
    "optimizer": st.sampled_from(OPTIMIZERS),
    "lr": st.sampled_from(["0.01", "0.1", "0.5", "2"]),
    "batch_size": st.sampled_from(["0", "7", "16", "48"]),
    "weight_decay": st.sampled_from(["0", "0.01", "0.3"]),
    "dtype": st.sampled_from(["float32", "float64"]),
    "seed": st.integers(0, 1000).map(str),
})


@settings(max_examples=min(300, EXAMPLES_CAP), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(flat=symmetric_configs, steps=st.integers(1, 25))
def test_symmetric_start_stays_bitwise_identical(flat: dict, steps: int) -> None:
    config = Config.from_flat({**SMALL, **flat})
    trainer = Trainer(config, max_rows=16)
    trainer.step(steps)
    for layer_gaps in hidden_gaps(trainer):
        assert np.all(layer_gaps == 0.0), f"neurons split: {layer_gaps.max()}"
    final = trainer.history.neuron_vectors(0)[-1]
    assert distinct(final, tol=0.0) == 1


@pytest.mark.parametrize("flat", [
    {"init": "xavier_uniform"},
    {"init": "normal:0.5"},
    {"dropout": "0.1"},
    {"dropout": "0.5", "init": "zeros", "bias_init": "constant:0.1"},
    {"bias_init": "normal:0.1"},
    {"perturb": "1e-6"},
])
def test_asymmetric_starts_and_dropout_split(flat: dict) -> None:
    trainer = Trainer(Config.from_flat({**SMALL, **flat}))
    trainer.step(30)
    assert gap(trainer.history.neuron_vectors(0)[-1]) > 0.0
    assert distinct(trainer.history.neuron_vectors(0)[-1], tol=0.0) > 1


def test_untied_outgoing_splits_and_tied_stays() -> None:
    tied, untied = Trainer(preset("tied-221")), Trainer(preset("untied-outgoing"))
    tied.step(200)
    untied.step(200)
    assert np.all(hidden_gaps(tied)[0] == 0.0)
    assert gap(untied.history.neuron_vectors(0)[-1]) > 0.1
    w1 = tied.parameters()[0][0]
    assert w1[0, 0] == w1[1, 0] and w1[0, 1] == w1[1, 1]
    assert not np.array_equal(w1, np.array([[0.5, -0.3], [0.5, -0.3]]))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_zero_init_tanh_relu_hidden_weights_never_move(activation: str) -> None:
    trainer = Trainer(Config.from_flat({"init": "zeros", "bias_init": "zeros", "activation": activation,
                                        "hidden": "8,4"}))
    trainer.step(50)
    for layer in range(2):
        assert np.all(trainer.history.neuron_vectors(layer) == 0.0)
    output_bias = trainer.history.layer_params(2)[1][:, 0]
    assert output_bias[-1] != 0.0, "the output bias still learns"


def test_zero_init_sigmoid_moves_but_stays_identical() -> None:
    trainer = Trainer(preset("zeros-sigmoid"))
    trainer.step(100)
    vectors = trainer.history.neuron_vectors(0)
    assert np.any(vectors[-1] != 0.0)
    assert np.all(hidden_gaps(trainer)[0] == 0.0)


def test_softmax_without_hidden_layer_splits_class_rows() -> None:
    trainer = Trainer(preset("softmax-zero"))
    trainer.step(100)
    weight, bias = trainer.parameters()[0]
    assert weight.shape == (3, 2)
    assert len({tuple(row) for row in weight}) == 3
    np.testing.assert_allclose(weight.sum(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(bias.sum(), 0.0, atol=1e-5)


def _matmul_splits(trainer: Trainer) -> bool:
    """Whether this CPU's matmul, in the first forward pass of the trainer's two hidden layers, gives identical
    neurons different numbers: the reference for the BLAS path, computed in the same run."""
    (w1, b1), (w2, _), _ = trainer.layout.views(trainer.theta)
    h1 = torch.tanh(torch.matmul(trainer.x_train, w1.transpose(-1, -2)) + b1.unsqueeze(-2))
    h2 = torch.matmul(h1, w2.transpose(-1, -2))
    return bool((h1 != h1[..., :1]).any() or (h2 != h2[..., :1]).any())


def test_blas_path_can_split_identical_neurons() -> None:
    """The trap the exact arithmetic avoids: plain matmuls may give identical neurons different numbers. Where
    they do is the choice of the CPU's BLAS; wherever this run's own matmul splits them, the BLAS path does,
    by no more than rounding, and the exact path never does."""
    probed = 0
    for dtype in ("float32", "float64"):
        for width in (9, 16, 33, 64):
            for dataset in ("coffee", "demand"):
                flat = {"dataset": dataset, "hidden": f"{width},{width}", "init": "constant:0.3",
                        "activation": "tanh", "lr": "0.5", "dtype": dtype}
                exact = Trainer(Config.from_flat(flat))
                blas = Trainer(Config.from_flat({**flat, "arithmetic": "blas"}))
                splits = _matmul_splits(blas)
                exact.step(20)
                blas.step(20)
                assert all(np.all(s == 0.0) for s in hidden_gaps(exact))
                np.testing.assert_allclose(blas.theta.numpy(), exact.theta.numpy(),
                                           rtol=1e-4 if dtype == "float32" else 1e-12, atol=1e-6)
                if splits:
                    assert any(s.max() > 0.0 for s in hidden_gaps(blas)), (dtype, width, dataset)
                    probed += 1
    if not probed:
        warnings.warn("this CPU's matmul split identical neurons in none of the shapes tried", stacklevel=1)


def test_same_seed_gives_bitwise_identical_histories() -> None:
    flat = {"dropout": "0.3", "batch_size": "32", "init": "xavier_normal", "seed": "7"}
    a, b = Trainer(Config.from_flat(flat)), Trainer(Config.from_flat(flat))
    a.step(40)
    b.step(40)
    assert np.array_equal(a.history.params[: a.history.count], b.history.params[: b.history.count])
    assert np.array_equal(a.history.metrics[: a.history.count].nan_to_num(),
                          b.history.metrics[: b.history.count].nan_to_num())
    c = Trainer(Config.from_flat({**flat, "seed": "8"}))
    c.step(40)
    assert not np.array_equal(a.history.params[: a.history.count], c.history.params[: c.history.count])


@pytest.mark.parametrize("shared", [
    {"optimizer": "sgd"},
    {"optimizer": "adam", "batch_size": "40"},
    {"optimizer": "momentum", "hidden": "12,5", "activation": "tanh"},
    {"dataset": "blobs3", "optimizer": "sgd", "dtype": "float64"},
])
def test_batched_runs_equal_separate_runs(shared: dict) -> None:
    variants = [
        {"init": "constant:0.5"},
        {"init": "xavier_uniform", "seed": "3"},
        {"dropout": "0.3", "seed": "5"},
        {"lr": "0.05", "weight_decay": "0.1"},
        {"perturb": "0.001", "seed": "11"},
    ]
    configs = [Config.from_flat({**shared, **v}) for v in variants]
    dataset = load_dataset(configs[0])
    together = Trainer(configs, dataset=dataset)
    together.step(30)
    for run, config in enumerate(configs):
        alone = Trainer(config, dataset=dataset)
        alone.step(30)
        assert np.array_equal(together.history.params[: together.history.count, run],
                              alone.history.params[: alone.history.count, 0])
        assert np.array_equal(together.history.metrics[: together.history.count, :, run].nan_to_num(),
                              alone.history.metrics[: alone.history.count, :, 0].nan_to_num())
