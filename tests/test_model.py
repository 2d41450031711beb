"""The MLP on its own: its layer outputs and predictions against a NumPy forward pass, K runs at once, however its
workspace forms its sums; a kept workspace reads θ where it lies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symbreak.engine import model
from symbreak.engine.model import MLP, Layout

NUMPY_ACTIVATIONS = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0), "sigmoid": lambda z: 1 / (1 + np.exp(-z))}


def numpy_outputs(layout: Layout, theta: np.ndarray, x: np.ndarray, activation: str, task: str) -> list[np.ndarray]:
    """Hidden activations and the prediction of one run, with matmuls on its unflattened weights."""
    layers, offset = [], 0
    for fan_in, fan_out in zip(layout.sizes[:-1], layout.sizes[1:]):
        weight = theta[offset: offset + fan_out * fan_in].reshape(fan_out, fan_in)
        bias = theta[offset + fan_out * fan_in: offset + fan_out * (fan_in + 1)]
        layers.append((weight, bias))
        offset += fan_out * (fan_in + 1)
    h, hidden = x, []
    for weight, bias in layers[:-1]:
        h = NUMPY_ACTIVATIONS[activation](h @ weight.T + bias)
        hidden.append(h)
    out = h @ layers[-1][0].T + layers[-1][1]
    if task == "binary":
        out = 1 / (1 + np.exp(-out))
    elif task == "multiclass":
        out = np.exp(out - out.max(-1, keepdims=True))
        out = out / out.sum(-1, keepdims=True)
    return [*hidden, out]


# kept products, rowdot (a workspace too large to keep), rowdot in chunks, and the plain matmul
SUMS = {"kept": (True, {}), "rowdot": (True, {"WORKSPACE_ELEMENTS": 0}),
        "chunked": (True, {"WORKSPACE_ELEMENTS": 0, "CHUNK_ELEMENTS": 50}), "blas": (False, {})}


@pytest.mark.parametrize("sizes, activation, task", [
    ((2, 5, 1), "sigmoid", "binary"),
    ((2, 4, 6, 3), "tanh", "multiclass"),
    ((1, 7, 1), "relu", "regression"),
    ((4, 1), "tanh", "multiclass"),
])
@pytest.mark.parametrize("sums", sorted(SUMS))
def test_outputs_match_a_numpy_forward_pass_for_each_run(sizes: tuple, activation: str, task: str, sums: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    exact, limits = SUMS[sums]
    for name, value in limits.items():
        monkeypatch.setattr(model, name, value)
    layout = Layout(sizes)
    rng = np.random.default_rng(1)
    theta = rng.normal(size=(3, layout.n_params))
    x = rng.normal(size=(40, sizes[0]))
    net = MLP(layout, activation, task, exact)
    outputs = net.outputs(torch.as_tensor(theta), torch.as_tensor(x).unsqueeze(0))
    assert len(outputs) == layout.n_layers
    for run in range(3):
        expected = numpy_outputs(layout, theta[run], x, activation, task)
        for got, want in zip(outputs, expected):
            np.testing.assert_allclose(got[run].numpy(), want, rtol=1e-12, atol=1e-14)


def test_a_kept_workspace_reads_theta_where_it_lies() -> None:
    # made once, it follows θ updated in place: what a trainer relies on step after step
    layout = Layout((3, 4, 2))
    rng = np.random.default_rng(2)
    theta = torch.as_tensor(rng.normal(size=(2, layout.n_params)))
    x = rng.normal(size=(10, 3))
    work = MLP(layout, "tanh", "multiclass").workspace(theta, torch.as_tensor(x).unsqueeze(0))
    assert work.small
    for _ in range(2):
        out = work.forward()
        for run in range(2):
            hidden, logits = numpy_outputs(layout, theta[run].numpy(), x, "tanh", "regression")  # logits as they are
            np.testing.assert_allclose(work.post[0][run].numpy(), hidden, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(out[run].numpy(), logits, rtol=1e-12, atol=1e-14)
        theta.mul_(-0.5).add_(0.1)


def test_dropout_masks_go_to_a_workspace_made_for_them() -> None:
    layout = Layout((2, 3, 1))
    theta, x = torch.zeros(1, layout.n_params), torch.zeros(1, 5, 2)
    masks = [torch.ones(1, 5, 3)]
    with pytest.raises(ValueError, match="dropout masks"):
        MLP(layout, "tanh", "binary").workspace(theta, x).forward(masks)
    with pytest.raises(ValueError, match="dropout masks"):
        MLP(layout, "tanh", "binary").workspace(theta, x, dropout=True).forward()
