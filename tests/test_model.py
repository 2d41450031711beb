"""The MLP on its own: its layer outputs and predictions against a NumPy forward pass, K runs at once."""

from __future__ import annotations

import numpy as np
import pytest
import torch

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


@pytest.mark.parametrize("sizes, activation, task", [
    ((2, 5, 1), "sigmoid", "binary"),
    ((2, 4, 6, 3), "tanh", "multiclass"),
    ((1, 7, 1), "relu", "regression"),
    ((4, 1), "tanh", "multiclass"),
])
@pytest.mark.parametrize("exact", [True, False])
def test_outputs_match_a_numpy_forward_pass_for_each_run(sizes: tuple, activation: str, task: str,
                                                         exact: bool) -> None:
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


def test_a_forward_pass_for_backward_keeps_each_layers_input_transposed() -> None:
    layout = Layout((3, 4, 2))
    theta = torch.randn(2, layout.n_params, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = torch.randn(1, 10, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    net = MLP(layout, "tanh", "multiclass")
    fwd = net.forward(layout.views(theta), x)
    assert [t.shape for t in fwd.inputs_t] == [(1, 3, 10), (2, 4, 10)]
    assert torch.equal(fwd.inputs_t[1], fwd.post[0].transpose(-1, -2))
    assert len(net.forward(layout.views(theta), x, for_backward=False).inputs_t) == 1
