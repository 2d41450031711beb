"""Weight masks: a pruned weight is exactly 0.0 from the first forward pass and never moves, whichever optimizer,
weight decay or dropout trains the rest; masked training matches a hand-written NumPy chain rule; `--mask`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbreak import Config
from symbreak.cli import main
from symbreak.engine.model import Layout
from symbreak.engine.trainer import Trainer, load_dataset

BASE = {"hidden": "8,6", "activation": "tanh", "init": "xavier_uniform", "bias_init": "uniform:0.5", "lr": "0.05"}


def random_mask(layout: Layout, k: int, seed: int, keep: float = 0.6) -> torch.Tensor:
    """A [K, P] mask of 1 (keep) and 0 (prune), drawn per entry; the trainer keeps every bias whatever it says."""
    return (torch.rand(k, layout.n_params, generator=torch.Generator().manual_seed(seed)) < keep).double()


def weight_entries(layout: Layout) -> torch.Tensor:
    """True at the weight entries of θ, False at the biases."""
    flags = torch.ones(layout.n_params, dtype=torch.bool)
    for _, bias in layout.views(flags):
        bias.fill_(False)
    return flags


def masked_trainer(flat: dict[str, str], seeds: tuple[int, ...] = (1, 2), mask_seed: int = 0) -> Trainer:
    configs = [Config.from_flat({**BASE, **flat, "seed": str(s)}) for s in seeds]
    layout = Trainer(configs).layout
    return Trainer(configs, mask=random_mask(layout, len(seeds), mask_seed), max_rows=1000)


def assert_pruned_stay_zero(trainer: Trainer) -> None:
    pruned = trainer.pruned
    assert pruned is not None and pruned.any()
    assert not (pruned & ~weight_entries(trainer.layout)).any(), "a bias was pruned"
    history = trainer.history
    params = history.params[: history.count]
    assert bool((params[:, pruned] == 0).all()), "a pruned weight left 0.0"
    assert bool((history.grads[1: history.count][:, pruned] == 0).all()), "a pruned weight's gradient was kept"
    assert not torch.equal(params[-1][~pruned], params[0][~pruned]), "the kept weights did not train"


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("extra", [{}, {"weight_decay": "0.05"}, {"dropout": "0.3"},
                                   {"weight_decay": "0.05", "dropout": "0.3", "batch_size": "16"}])
def test_a_pruned_weight_is_zero_from_the_start_and_never_updated(optimizer: str, extra: dict[str, str]) -> None:
    trainer = masked_trainer({"optimizer": optimizer, **extra})
    trainer.step(40)
    assert_pruned_stay_zero(trainer)


def test_an_all_ones_mask_trains_bitwise_as_no_mask() -> None:
    configs = [Config.from_flat({**BASE, "optimizer": "adam", "weight_decay": "0.01", "seed": str(s)}) for s in (1, 2)]
    plain = Trainer(configs)
    ones = Trainer(configs, mask=torch.ones(plain.layout.n_params))
    plain.step(30)
    ones.step(30)
    assert plain.pruned is None
    assert torch.equal(plain.theta, ones.theta)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mask_seed=st.integers(0, 2**31 - 1), keep=st.floats(0.05, 0.95),
       optimizer=st.sampled_from(["sgd", "momentum", "adam"]), decay=st.sampled_from(["0", "0.1"]),
       dropout=st.sampled_from(["0", "0.5"]))
def test_any_random_mask_holds_its_weights_at_zero(mask_seed: int, keep: float, optimizer: str, decay: str,
                                                    dropout: str) -> None:
    configs = [Config.from_flat({**BASE, "hidden": "5,3", "optimizer": optimizer, "weight_decay": decay,
                                 "dropout": dropout, "seed": str(s)}) for s in (3, 4, 5)]
    layout = Trainer(configs[:1]).layout
    mask = random_mask(layout, 3, mask_seed, keep)
    mask[:, 0] = 0  # at least one weight pruned in every run
    trainer = Trainer(configs, mask=mask, max_rows=1000)
    trainer.step(8)
    pruned = trainer.pruned
    assert torch.equal(pruned, (mask == 0) & weight_entries(layout))
    assert bool((trainer.history.params[: trainer.history.count][:, pruned] == 0).all())


def numpy_masked_training(x: np.ndarray, y: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]],
                          masks: list[np.ndarray], lr: float, steps: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Plain gradient descent on a tanh hidden layer and a sigmoid cross-entropy output, by the chain rule, with
    the weights multiplied by their 0/1 masks at the start and each gradient multiplied by its mask."""
    (w1, b1), (w2, b2) = layers
    m1, m2 = masks
    w1, w2 = w1 * m1, w2 * m2
    n = len(y)
    for _ in range(steps):
        h = np.tanh(x @ w1.T + b1)                            # [N, H]
        p = 1.0 / (1.0 + np.exp(-(h @ w2.T + b2)))            # [N, 1]
        dz2 = (p - y[:, None]) / n                            # dLoss/dz2 of the mean cross-entropy
        dw2, db2 = dz2.T @ h, dz2.sum(0)
        dz1 = (dz2 @ w2) * (1.0 - h**2)                       # back through w2 and tanh
        dw1, db1 = dz1.T @ x, dz1.sum(0)
        w1, b1 = w1 - lr * dw1 * m1, b1 - lr * db1
        w2, b2 = w2 - lr * dw2 * m2, b2 - lr * db2
    return [(w1, b1), (w2, b2)]


def test_masked_training_matches_a_numpy_chain_rule() -> None:
    config = Config.from_flat({**BASE, "hidden": "6", "optimizer": "sgd", "lr": "0.5", "dtype": "float64",
                               "init": "normal:1", "batch_size": "0"})
    dataset = load_dataset(config)
    layout = Layout((2, 6, 1))
    mask = random_mask(layout, 1, 7, keep=0.5)[0]
    start = Trainer(config, dataset).parameters()  # the unmasked start: NumPy masks it itself
    trainer = Trainer(config, dataset, mask=mask)
    trainer.step(60)
    masks = [w.numpy() for w, _ in layout.views(mask)]
    expected = numpy_masked_training(dataset.x_train, dataset.y_train, start, masks, 0.5, 60)
    for (w, b), (w_np, b_np) in zip(trainer.parameters(), expected):
        np.testing.assert_allclose(w, w_np, rtol=0, atol=1e-12)
        np.testing.assert_allclose(b, b_np, rtol=0, atol=1e-12)
    assert any((m == 0).any() for m in masks) and all(((w == 0) | (m == 1)).all()
                                                      for (w, _), m in zip(trainer.parameters(), masks))


def mask_file(tmp_path: Path, layers: list[dict]) -> str:
    path = tmp_path / "mask.json"
    path.write_text(json.dumps({"layers": layers}))
    return str(path)


def test_cli_mask_prunes_the_weights_the_file_names(tmp_path: Path, capsys) -> None:
    keep_half = [[1, 0]] * 8
    path = mask_file(tmp_path, [{"weight": keep_half, "bias": [1] * 8}, {"weight": [[1] * 8], "bias": [1]}])
    weights = tmp_path / "out.json"
    code = main(["run", "--hidden", "8", "--init", "xavier_uniform", "--steps", "30", "--mask", path,
                 "--out-weights", str(weights)])
    assert code == 0
    assert "test_accuracy" in json.loads(capsys.readouterr().out)
    first = json.loads(weights.read_text())["layers"][0]["weight"]
    assert all(row[1] == 0.0 and row[0] != 0.0 for row in first)


def test_cli_mask_refuses_a_wrong_shape_in_one_line(tmp_path: Path, capsys) -> None:
    path = mask_file(tmp_path, [{"weight": [[1, 1]] * 7, "bias": [1] * 7}, {"weight": [[1] * 7], "bias": [1]}])
    assert main(["run", "--hidden", "8", "--mask", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mask:" in err and "[8×2]" in err and "[7×2]" in err


@pytest.mark.parametrize("value", [0.5, 2, -1])
def test_cli_mask_refuses_values_other_than_zero_and_one(tmp_path: Path, capsys, value: float) -> None:
    path = mask_file(tmp_path, [{"weight": [[1, value]] + [[1, 1]] * 7, "bias": [1] * 8},
                                {"weight": [[1] * 8], "bias": [1]}])
    assert main(["run", "--hidden", "8", "--mask", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mask:" in err and "1 (keep) or 0 (prune)" in err
