"""The engine's math, proved against independent implementations.

The 2-2-1 net is checked against the chain rule written out by hand in NumPy
(dJ/dw1 = δ·w5·σ'(z1)·x1, ...); deeper nets, every activation and every loss
against torch autograd on nn.Linear (dropout masks included); the optimizers against torch.optim.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symbreak import Config, Trainer
from symbreak.engine.model import MLP, Layout, output_grad
from symbreak.settings.explicit import explicit_json


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def chain_rule_221(x: np.ndarray, y: np.ndarray, w: list[float], b: list[float]) -> dict[str, float]:
    """Batch-mean gradients of the 2-2-1 sigmoid net with BCE, one factor at a time."""
    w1, w2, w3, w4, w5, w6 = w
    b1, b2, b3 = b
    x1, x2 = x[:, 0], x[:, 1]
    z1 = w1 * x1 + w2 * x2 + b1
    z2 = w3 * x1 + w4 * x2 + b2
    a1, a2 = sigmoid(z1), sigmoid(z2)
    z3 = w5 * a1 + w6 * a2 + b3
    a3 = sigmoid(z3)
    dj_da3 = -(y / a3) + (1 - y) / (1 - a3)       # binary cross-entropy
    da3_dz3 = a3 * (1 - a3)
    delta = dj_da3 * da3_dz3                      # = a3 - y
    ds1, ds2 = a1 * (1 - a1), a2 * (1 - a2)       # σ'(z1), σ'(z2)
    terms = {
        "w1": delta * w5 * ds1 * x1, "w2": delta * w5 * ds1 * x2, "b1": delta * w5 * ds1,
        "w3": delta * w6 * ds2 * x1, "w4": delta * w6 * ds2 * x2, "b2": delta * w6 * ds2,
        "w5": delta * a1, "w6": delta * a2, "b3": delta,
    }
    return {name: float(t.mean()) for name, t in terms.items()}


@pytest.mark.parametrize("w, b", [
    ([0.5, -0.3, 0.5, -0.3, 0.8, 0.8], [0.0, 0.0, 0.0]),
    ([0.5, -0.3, 0.5, -0.3, 0.8, -0.4], [0.1, -0.2, 0.3]),
    ([1.2, 0.7, -0.4, 2.0, -1.1, 0.6], [0.0, 0.5, -0.5]),
])
def test_221_gradients_match_hand_written_chain_rule(w: list[float], b: list[float]) -> None:
    weights = explicit_json([([[w[0], w[1]], [w[2], w[3]]], b[:2]), ([[w[4], w[5]]], b[2:])])
    trainer = Trainer(Config.from_flat({"hidden": "2", "init_weights": weights, "dtype": "float64"}))
    _, grad = trainer.gradients()
    (gw1, gb1), (gw2, gb2) = trainer.layout.views(grad[0])
    data = trainer.dataset
    expected = chain_rule_221(data.x_train, data.y_train, w, b)
    got = {"w1": gw1[0, 0], "w2": gw1[0, 1], "w3": gw1[1, 0], "w4": gw1[1, 1], "b1": gb1[0], "b2": gb1[1],
           "w5": gw2[0, 0], "w6": gw2[0, 1], "b3": gb2[0]}
    for name, value in expected.items():
        assert float(got[name]) == pytest.approx(value, rel=1e-10, abs=1e-14), name
    if w[4] == w[5] and b[0] == b[1]:
        assert got["w1"] == got["w3"] and got["w2"] == got["w4"]
    else:
        assert got["w1"] != got["w3"]


def autograd_reference(trainer: Trainer, theta: torch.Tensor) -> tuple[float, torch.Tensor]:
    """Loss and gradient from torch.nn layers and autograd, for the same parameters and data."""
    layers = []
    for weight, bias in trainer.layout.views(theta.double()):
        linear = torch.nn.Linear(weight.shape[1], weight.shape[0]).double()
        with torch.no_grad():
            linear.weight.copy_(weight)
            linear.bias.copy_(bias)
        layers.append(linear)
    act = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
           "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01), "linear": lambda z: z}
    h = torch.as_tensor(trainer.dataset.x_train, dtype=torch.float64)
    for linear in layers[:-1]:
        h = act[trainer.config.model.activation](linear(h))
    out = layers[-1](h)
    y = torch.as_tensor(trainer.dataset.y_train, dtype=torch.float64)
    if trainer.task == "binary":
        loss = torch.nn.functional.binary_cross_entropy_with_logits(out[:, 0], y)
    elif trainer.task == "multiclass":
        loss = torch.nn.functional.cross_entropy(out, y.long())
    else:
        loss = torch.nn.functional.mse_loss(out[:, 0], y)
    loss.backward()
    grads = torch.cat([torch.cat([l.weight.grad.flatten(), l.bias.grad]) for l in layers])
    return float(loss.detach()), grads


@pytest.mark.parametrize("flat", [
    {"hidden": "8", "activation": "sigmoid"},
    {"hidden": "5,3", "activation": "tanh", "dataset": "demand"},
    {"hidden": "6,6,4", "activation": "relu", "dataset": "blobs3"},
    {"hidden": "7", "activation": "leaky_relu", "dataset": "sine"},
    {"hidden": "0", "dataset": "blobs3"},
    {"hidden": "4", "activation": "linear", "dataset": "circles"},
    {"hidden": "12,20", "activation": "tanh", "dataset": "spiral", "arithmetic": "blas"},
])
def test_gradients_match_autograd(flat: dict) -> None:
    trainer = Trainer(Config.from_flat({**flat, "init": "normal:0.7", "bias_init": "normal:0.2",
                                        "dtype": "float64"}))
    loss, grad = trainer.gradients()
    ref_loss, ref_grad = autograd_reference(trainer, trainer.theta[0])
    assert float(loss[0]) == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(grad[0].numpy(), ref_grad.numpy(), rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("optimizer, reference", [
    ("sgd", lambda p, lr, wd: torch.optim.SGD(p, lr=lr, weight_decay=wd)),
    ("momentum", lambda p, lr, wd: torch.optim.SGD(p, lr=lr, momentum=0.9, weight_decay=wd)),
    ("adam", lambda p, lr, wd: torch.optim.Adam(p, lr=lr, weight_decay=wd)),
])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_optimizers_match_torch_optim(optimizer: str, reference, weight_decay: float) -> None:
    config = Config.from_flat({"hidden": "4", "init": "normal:0.5", "optimizer": optimizer, "lr": "0.05",
                               "weight_decay": str(weight_decay), "dtype": "float64"})
    trainer = Trainer(config)
    params = torch.nn.Parameter(trainer.theta[0].clone())
    opt = reference([params], 0.05, weight_decay)
    for _ in range(25):
        _, grad = trainer.gradients(params.detach().unsqueeze(0))
        params.grad = grad[0].clone()
        opt.step()
    trainer.step(25)
    np.testing.assert_allclose(trainer.theta[0].numpy(), params.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_dropout_is_inverted_and_training_only() -> None:
    config = Config.from_flat({"dropout": "0.5", "init": "normal:0.5", "dtype": "float64"})
    trainer = Trainer(config)
    masks = trainer._masks(20000)
    values = torch.unique(masks[0])
    assert set(values.tolist()) == {0.0, 2.0}
    assert float(masks[0].mean()) == pytest.approx(1.0, abs=0.03)
    loss_eval, _ = trainer.gradients()
    assert float(loss_eval[0]) == pytest.approx(trainer.history.metric("train_loss")[0], rel=1e-12)


@pytest.mark.parametrize("exact", [True, False])
def test_backward_through_dropout_masks_matches_autograd(exact: bool) -> None:
    # The masks of a training step, fixed here, scale each hidden activation; autograd differentiates the same
    # masked network built from nn.Linear.
    layout = Layout((2, 5, 4, 1))
    generator = torch.Generator().manual_seed(2)
    theta = torch.randn(2, layout.n_params, generator=generator, dtype=torch.float64)
    x = torch.randn(1, 30, 2, generator=generator, dtype=torch.float64)
    y = (torch.rand(30, generator=generator) < 0.5).double()
    masks = [(torch.rand(2, 30, width, generator=generator) < 0.6).double() / 0.6 for width in (5, 4)]
    net = MLP(layout, "tanh", "binary", exact)
    fwd = net.forward(layout.views(theta), x, masks=masks)
    grad = torch.zeros_like(theta)
    net.backward(layout.views(theta), layout.views(grad), fwd, output_grad("binary", fwd.out, y, None), masks)
    for run in range(2):
        layers = []
        for weight, bias in layout.views(theta[run]):
            linear = torch.nn.Linear(weight.shape[1], weight.shape[0]).double()
            with torch.no_grad():
                linear.weight.copy_(weight)
                linear.bias.copy_(bias)
            layers.append(linear)
        h = x[0]
        for linear, mask in zip(layers[:-1], masks):
            h = torch.tanh(linear(h)) * mask[run]
        torch.nn.functional.binary_cross_entropy_with_logits(layers[-1](h)[:, 0], y).backward()
        expected = torch.cat([torch.cat([l.weight.grad.flatten(), l.bias.grad]) for l in layers])
        np.testing.assert_allclose(grad[run].numpy(), expected.numpy(), rtol=1e-10, atol=1e-14)
