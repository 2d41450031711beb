"""The cost of a step in dispatcher calls, and the workspace's sums: bitwise the same whichever way they are formed
(so runs side by side, which may outgrow a kept workspace, equal runs alone), and right against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from symbreak import Config
from symbreak.engine import model
from symbreak.engine.trainer import Trainer
from symbreak.settings.presets import DEFAULT_PRESET, preset

OPS_PER_STEP = 48  # the default preset at steady state (it was about 77 before the workspace)


class CountCalls(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def test_a_default_step_at_steady_state_makes_at_most_the_bounded_number_of_dispatcher_calls() -> None:
    trainer = Trainer(preset(DEFAULT_PRESET))
    trainer.step(1200)
    with CountCalls() as count:
        trainer.step(100)
    assert count.calls / 100 <= OPS_PER_STEP


CONFIGS = [
    {},
    {"hidden": "8,6", "activation": "tanh", "init": "xavier_uniform"},
    {"hidden": "5,3", "activation": "leaky_relu", "init": "xavier_uniform", "dataset": "sine", "lr": "0.05"},
    {"hidden": "6", "activation": "relu", "init": "xavier_uniform", "dataset": "blobs3"},
    {"hidden": "8", "activation": "linear", "init": "xavier_uniform", "dataset": "demand", "lr": "0.1"},
]


@pytest.mark.parametrize("flat", CONFIGS)
def test_kept_products_and_rowdot_give_bitwise_the_same_loss_and_gradient(flat: dict,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # a kept workspace sums products held in its scratch buffer; one too large to keep sums them through rowdot
    trainer = Trainer([Config.from_flat({**flat, "seed": str(seed)}) for seed in (1, 2, 3)])
    trainer.step(20)
    assert trainer._work is not None and trainer._work.small
    kept = trainer.gradients()
    monkeypatch.setattr(model, "WORKSPACE_ELEMENTS", 0)
    with torch.inference_mode():
        work = trainer.forward(trainer.theta, trainer.x_train, for_backward=True)
        work.backward()
    assert not work.small
    assert torch.equal(work.grad, kept[1])
    with torch.inference_mode():
        assert torch.equal(model.output_loss(trainer.task, work.out, trainer.y_train, trainer.onehot_train), kept[0])


def numpy_gradient(x: np.ndarray, y: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """A hand-written chain rule for tanh hidden layers and a sigmoid cross-entropy output (mean over rows)."""
    hs = [x]
    for w, b in layers[:-1]:
        hs.append(np.tanh(hs[-1] @ w.T + b))
    w, b = layers[-1]
    dz = (1 / (1 + np.exp(-(hs[-1] @ w.T + b))) - y[:, None]) / len(y)
    grads = []
    for layer in range(len(layers) - 1, -1, -1):
        grads[:0] = [(dz.T @ hs[layer]).ravel(), dz.sum(0)]
        if layer:
            dz = (dz @ layers[layer][0]) * (1 - hs[layer] ** 2)
    return grads


def test_the_workspace_gradient_matches_a_numpy_chain_rule() -> None:
    trainer = Trainer(Config.from_flat({"hidden": "8,6", "activation": "tanh", "init": "xavier_uniform",
                                        "dtype": "float64"}))
    trainer.step(30)
    with torch.inference_mode():
        trainer._work.forward()
        trainer._work.backward()  # the kept workspace writes the trainer's gradient
    layers = trainer.parameters()
    expected = np.concatenate(numpy_gradient(trainer.dataset.x_train, trainer.dataset.y_train, layers))
    np.testing.assert_allclose(trainer.grad[0].numpy(), expected, rtol=1e-10, atol=1e-14)
