"""The engine's math, proved against independent implementations.

The 2-2-1 net is checked against the chain rule written out by hand in NumPy
(dJ/dw1 = δ·w5·σ'(z1)·x1, ...); the workspace (every activation, loss, dropout
mask and way of forming its sums) against the chain rule written with NumPy
matmuls; the trainer's gradients against torch autograd on nn.Linear; the
optimizers against torch.optim.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symbreak import Config, Trainer
from symbreak.engine import model
from symbreak.engine.model import MLP, Layout, output_loss
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


NUMPY_ACTIVATIONS = {  # a(z) and da/dz
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z, a: a * (1 - a)),
    "tanh": (np.tanh, lambda z, a: 1 - a**2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(float)),
    "leaky_relu": (lambda z: np.where(z > 0, z, 0.01 * z), lambda z, a: np.where(z > 0, 1.0, 0.01)),
    "linear": (lambda z: z, lambda z, a: np.ones_like(z)),
}


def numpy_chain_rule(layers: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray, y: np.ndarray, activation: str,
                     task: str, masks: list[np.ndarray] | None = None) -> tuple[float, np.ndarray]:
    """Mean loss and dLoss/dθ (flat: each layer's weight then bias) of one run, written out with matmuls:
    dLoss/dz of the output, then per layer dW = dzᵀ·h, db = Σ dz, dz_below = (dz·W) ⊙ mask ⊙ a'(z)."""
    act, slope = NUMPY_ACTIVATIONS[activation]
    hs, zs, posts = [x], [], []
    for layer, (w, b) in enumerate(layers[:-1]):
        zs.append(hs[-1] @ w.T + b)
        posts.append(act(zs[-1]))
        hs.append(posts[-1] * masks[layer] if masks is not None else posts[-1])
    out = hs[-1] @ layers[-1][0].T + layers[-1][1]
    n = len(y)
    if task == "binary":
        logit = out[:, 0]
        loss = np.mean(np.maximum(logit, 0) - logit * y + np.log1p(np.exp(-np.abs(logit))))
        dz = ((1 / (1 + np.exp(-logit)) - y) / n)[:, None]
    elif task == "multiclass":
        p = np.exp(out - out.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        onehot = np.eye(out.shape[1])[y.astype(int)]
        loss, dz = -np.mean(np.log(p[np.arange(n), y.astype(int)])), (p - onehot) / n
    else:
        loss, dz = np.mean((out[:, 0] - y) ** 2), 2 * (out - y[:, None]) / n
    grads: list[np.ndarray] = []
    for layer in range(len(layers) - 1, -1, -1):
        grads[:0] = [(dz.T @ hs[layer]).ravel(), dz.sum(0)]
        if layer:
            dh = dz @ layers[layer][0]
            dh = dh * masks[layer - 1] if masks is not None else dh
            dz = dh * slope(zs[layer - 1], posts[layer - 1])
    return float(loss), np.concatenate(grads)


# how the workspace forms its sums: kept products, rowdot (a workspace too large to keep), rowdot cut into
# chunks along either dimension, or BLAS
SUMS = {"kept": {}, "rowdot": {"WORKSPACE_ELEMENTS": 0}, "chunked": {"WORKSPACE_ELEMENTS": 0, "CHUNK_ELEMENTS": 50},
        "blas": {}}


@pytest.mark.parametrize("sums", sorted(SUMS))
@pytest.mark.parametrize("sizes, activation, task", [
    ((2, 5, 1), "sigmoid", "binary"),
    ((3, 6, 4, 3), "tanh", "multiclass"),
    ((1, 7, 1), "relu", "regression"),
    ((4, 5, 2, 1), "leaky_relu", "binary"),
    ((2, 3, 3), "linear", "multiclass"),
    ((5, 1), "tanh", "regression"),
])
@pytest.mark.parametrize("dropout, batch", [(False, False), (True, False), (True, True)])
def test_the_workspace_gradient_matches_a_numpy_chain_rule_every_way_it_sums(
        sums: str, sizes: tuple, activation: str, task: str, dropout: bool, batch: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # dropout: a mask per run, example and neuron; batch: each run its own inputs ([K, N, in], as mini-batches)
    for name, value in SUMS[sums].items():
        monkeypatch.setattr(model, name, value)
    layout, k, n = Layout(sizes), 3, 30
    rng = np.random.default_rng(sum(sizes))
    theta = rng.normal(0, 0.8, (k, layout.n_params))
    x = rng.normal(size=(k if batch else 1, n, sizes[0]))
    y = rng.integers(0, sizes[-1], n) if task == "multiclass" else rng.integers(0, 2, n) if task == "binary" \
        else rng.normal(size=n)
    masks = [(rng.random((k, n, width)) < 0.6) / 0.6 for width in sizes[1:-1]] if dropout else None
    onehot = torch.nn.functional.one_hot(torch.as_tensor(y), sizes[-1]).double() if task == "multiclass" else None
    grad = torch.full((k, layout.n_params), float("nan"), dtype=torch.float64)
    net = MLP(layout, activation, task, exact=sums != "blas")
    work = net.workspace(torch.as_tensor(theta), torch.as_tensor(x), torch.as_tensor(y, dtype=torch.float64), onehot,
                         grad=grad, dropout=dropout and len(sizes) > 2)
    mask_tensors = [torch.as_tensor(m) for m in masks] if masks and len(sizes) > 2 else None
    out = work.forward(mask_tensors)
    work.backward(mask_tensors)
    loss = output_loss(task, out, work.y, onehot)
    for run in range(k):
        layers = [(w.numpy(), b.numpy()) for w, b in layout.views(torch.as_tensor(theta[run]))]
        run_masks = [m[run] for m in masks] if masks else None
        want_loss, want_grad = numpy_chain_rule(layers, x[run if batch else 0], y, activation, task, run_masks)
        assert float(loss[run]) == pytest.approx(want_loss, rel=1e-12)
        np.testing.assert_allclose(grad[run].numpy(), want_grad, rtol=1e-9, atol=1e-13)
