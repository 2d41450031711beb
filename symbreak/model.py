"""The MLP: parameter layout, init schemes, and an exact forward and backward pass over K runs at once.

Parameters of K runs live in one flat tensor [K, P]; each layer's weight
[K, out, in] (as in `torch.nn.Linear`) and bias [K, out] are views into it.

Why the arithmetic is written by hand: a BLAS matmul does not compute identical
columns identically for every shape, so two identical neurons can split by an
ulp through the library alone. Here every dot product is an elementwise
product summed over a contiguous last dimension, and every nonlinearity is
built from elementwise operations whose vectorised and scalar paths agree
(`exp`, `tanh`, `+`, `*`, `/`), so identical neurons get identical numbers by
construction. `arithmetic="blas"` runs the plain matmul path on purpose, to
show an ulp-sized tie-break.

Init formulas: Glorot & Bengio (2010) for xavier, He et al. (2015) for he,
and `nn.Linear.reset_parameters` for torch_default (U(±1/√fan_in)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .config import Config
from .explicit import parse_explicit
from .values import ConfigError, parse_scheme

CHUNK_ELEMENTS = 1 << 22
LEAKY_SLOPE = 0.01
SMALL_FAN_IN = 3


@dataclass(frozen=True)
class Layout:
    """Where each layer's weight and bias sit in the flat parameter vector."""

    sizes: tuple[int, ...]

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def slices(self) -> list[tuple[int, int, int, int]]:
        """(weight offset, bias offset, out, in) per layer, first hidden layer first."""
        out, offset = [], 0
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            out.append((offset, offset + fan_out * fan_in, fan_out, fan_in))
            offset += fan_out * (fan_in + 1)
        return out

    @property
    def n_params(self) -> int:
        return sum(o * (i + 1) for i, o in zip(self.sizes[:-1], self.sizes[1:]))

    def views(self, flat: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(weight [..., out, in], bias [..., out]) views of a flat [..., P] tensor."""
        lead = flat.shape[:-1]
        return [
            (flat[..., w: w + o * i].view(*lead, o, i), flat[..., b: b + o])
            for w, b, o, i in self.slices
        ]


def init_params(config: Config, layout: Layout, generator: torch.Generator) -> torch.Tensor:
    """A float64 [P] vector of starting parameters drawn as the config says."""
    flat = torch.zeros(layout.n_params, dtype=torch.float64)
    views = layout.views(flat)
    if config.init.explicit:
        _fill_explicit(config.init.explicit, layout, views)
    else:
        w_name, w_param = parse_scheme(config.init.weight, "init")
        b_name, b_param = parse_scheme(config.init.bias, "bias_init")
        for weight, bias in views:
            fan_out, fan_in = weight.shape
            weight.copy_(_draw(w_name, w_param, weight.shape, fan_in, fan_out, generator))
            bias.copy_(_draw(b_name, b_param, bias.shape, fan_in, fan_out, generator))
    if config.init.perturb > 0:
        for weight, _ in views:
            weight.add_(torch.randn(weight.shape, generator=generator, dtype=torch.float64) * config.init.perturb)
    return flat


def _draw(name: str, param: float | None, shape: torch.Size, fan_in: int, fan_out: int,
          generator: torch.Generator) -> torch.Tensor:
    def uniform(bound: float) -> torch.Tensor:
        return (torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound

    def normal(std: float) -> torch.Tensor:
        return torch.randn(shape, generator=generator, dtype=torch.float64) * std

    if name == "zeros":
        return torch.zeros(shape, dtype=torch.float64)
    if name == "constant":
        return torch.full(shape, float(param), dtype=torch.float64)
    if name == "normal":
        return normal(float(param))
    if name == "uniform":
        return uniform(float(param))
    if name == "xavier_uniform":
        return uniform(math.sqrt(6.0 / (fan_in + fan_out)))
    if name == "xavier_normal":
        return normal(math.sqrt(2.0 / (fan_in + fan_out)))
    if name == "he_uniform":
        return uniform(math.sqrt(6.0 / fan_in))
    if name == "he_normal":
        return normal(math.sqrt(2.0 / fan_in))
    return uniform(1.0 / math.sqrt(fan_in))  # torch_default


def _fill_explicit(text: str, layout: Layout, views: list) -> None:
    layers = parse_explicit(text)
    expected = [f"[{o}×{i}]" for _, _, o, i in layout.slices]
    if len(layers) != layout.n_layers:
        raise ConfigError(
            f"init_weights: the network has {layout.n_layers} layers with weights {' '.join(expected)}, "
            f"but the JSON gives {len(layers)}"
        )
    for n, (layer, (weight, bias)) in enumerate(zip(layers, views)):
        given = torch.tensor(layer["weight"], dtype=torch.float64)
        if given.shape != weight.shape:
            raise ConfigError(
                f"init_weights: layer {n} weight must be {expected[n]} (out × in), "
                f"got [{given.shape[0]}×{given.shape[1]}]"
            )
        weight.copy_(given)
        bias.copy_(torch.tensor(layer["bias"], dtype=torch.float64))


def rowdot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """out[..., m, p] = Σ_l a[..., m, l] · b[..., p, l], summed over a contiguous last dimension.

    Identical rows of `b` give bitwise identical columns of the result for any
    shape; large products are cut into chunks (along m, or along l with the
    partial sums added in the same order for every entry).
    """
    m, length = a.shape[-2], a.shape[-1]
    p = b.shape[-2]
    total = max(math.prod(a.shape[:-2]), math.prod(b.shape[:-2])) * m * p * length
    if total <= CHUNK_ELEMENTS:
        return (a.unsqueeze(-2) * b.unsqueeze(-3)).sum(-1)
    if m >= length:
        step = max(1, CHUNK_ELEMENTS // max(1, total // m))
        return torch.cat([rowdot(a[..., s: s + step, :], b) for s in range(0, m, step)], dim=-2)
    step = max(1, CHUNK_ELEMENTS // max(1, total // length))
    result = None
    for s in range(0, length, step):
        part = rowdot(a[..., s: s + step].contiguous(), b[..., s: s + step].contiguous())
        result = part if result is None else result + part
    return result


def input_columns(h: torch.Tensor) -> list[torch.Tensor]:
    """Views h[..., i:i+1] of each input column, for the term-by-term sum of a small fan-in."""
    return [h[..., i: i + 1] for i in range(h.shape[-1])] if h.shape[-1] <= SMALL_FAN_IN else []


def weight_columns(weight: torch.Tensor) -> list[torch.Tensor]:
    """Views [K, 1, out] of each weight column, for the term-by-term sum of a small fan-in."""
    return [weight[..., i].unsqueeze(-2) for i in range(weight.shape[-1])] if weight.shape[-1] <= SMALL_FAN_IN else []


def linear(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, exact: bool,
           h_cols: list[torch.Tensor] | None = None, w_cols: list[torch.Tensor] | None = None) -> torch.Tensor:
    """z = h · weightᵀ + bias for h [.., N, in], weight [K, out, in], bias [K, out].

    A small fan-in is summed term by term (elementwise, so just as exact and
    cheaper than a broadcast product over a short last dimension); the column
    views may be passed in precomputed.
    """
    if not exact:
        return torch.matmul(h, weight.transpose(-1, -2)) + bias.unsqueeze(-2)
    if weight.shape[-1] > SMALL_FAN_IN:
        return rowdot(h, weight) + bias.unsqueeze(-2)
    h_cols = h_cols or input_columns(h)
    w_cols = w_cols or weight_columns(weight)
    z = h_cols[0] * w_cols[0] + bias.unsqueeze(-2)
    for h_col, w_col in zip(h_cols[1:], w_cols[1:]):
        z = z + h_col * w_col
    return z


def activate(name: str, z: torch.Tensor) -> torch.Tensor:
    """The activation, written with position-independent elementwise operations."""
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return torch.tanh(z)
    if name == "relu":
        return z.clamp_min(0.0)
    if name == "leaky_relu":
        return torch.where(z > 0, z, z * LEAKY_SLOPE)
    return z


def activation_slope(name: str, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor | float:
    """da/dz from the pre-activation z and the activation a."""
    if name == "sigmoid":
        return a * (1.0 - a)
    if name == "tanh":
        return 1.0 - a * a
    if name == "relu":
        return (z > 0).to(z.dtype)
    if name == "leaky_relu":
        return torch.where(z > 0, 1.0, LEAKY_SLOPE).to(z.dtype)
    return 1.0


def sigmoid(z: torch.Tensor) -> torch.Tensor:
    """1 / (1 + e^(-z)); torch.sigmoid's scalar tail loop can differ from its vector body by an ulp."""
    return torch.reciprocal(torch.exp(-z) + 1.0)


def output_loss(task: str, z: torch.Tensor, y: torch.Tensor, onehot: torch.Tensor | None) -> torch.Tensor:
    """Per-run mean loss [K], with PyTorch's conventions for each task.

    binary: one logit, sigmoid + binary cross-entropy (as BCEWithLogitsLoss);
    multiclass: softmax cross-entropy over the logits (as CrossEntropyLoss);
    regression: mean squared error (as MSELoss).
    """
    if task == "binary":
        logit = z[..., 0]
        loss = logit.clamp_min(0.0) - logit * y + torch.log1p(torch.exp(-logit.abs()))
        return loss.sum(-1) / logit.shape[-1]
    if task == "multiclass":
        shifted = z - z.amax(-1, keepdim=True)
        return (torch.log(torch.exp(shifted).sum(-1)) - (shifted * onehot).sum(-1)).sum(-1) / z.shape[-2]
    diff = z[..., 0] - y
    return (diff * diff).sum(-1) / z.shape[-2]


def output_grad(task: str, z: torch.Tensor, y: torch.Tensor, onehot: torch.Tensor | None) -> torch.Tensor:
    """dLoss/dz [K, N, n_out] of the mean loss: (p − y)/N, (softmax − onehot)/N, or 2(z − y)/N."""
    n = z.shape[-2]
    if task == "binary":
        return ((sigmoid(z) - y.unsqueeze(-1)) / n)
    if task == "multiclass":
        expz = torch.exp(z - z.amax(-1, keepdim=True))
        return (expz / expz.sum(-1, keepdim=True) - onehot) / n
    return (z - y.unsqueeze(-1)) * (2.0 / n)


def accuracy(task: str, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-run share of correct predictions [K] for binary or multiclass outputs."""
    predicted = (z[..., 0] > 0) if task == "binary" else z.argmax(-1)
    return (predicted == y).sum(-1) / z.shape[-2]


def prediction(task: str, z: torch.Tensor) -> torch.Tensor:
    """What the output logits z predict: a probability (binary), class probabilities (multiclass) or the value."""
    if task == "binary":
        return sigmoid(z)
    if task == "multiclass":
        return torch.softmax(z, -1)
    return z


@dataclass
class Forward:
    """One forward pass: each layer's activations, and what the backward pass needs."""

    inputs_t: list[torch.Tensor]   # each layer's input, transposed to [.., in, N], contiguous
    pre: list[torch.Tensor]        # hidden pre-activations z
    post: list[torch.Tensor]       # hidden activations a (before dropout)
    out: torch.Tensor              # output logits [K, N, n_out]


@dataclass(frozen=True)
class MLP:
    """The network: layer sizes, hidden activation, the task its output and loss serve, and its arithmetic.

    Parameters come in as `layout.views(theta)` for theta [K, P], so a caller
    that runs the same θ many times makes its views (and column views) once.
    """

    layout: Layout
    activation: str
    task: str
    exact: bool = True

    def forward(self, views: list[tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor,
                x_t: torch.Tensor | None = None, masks: list[torch.Tensor] | None = None,
                for_backward: bool = True, x_cols: list[torch.Tensor] | None = None,
                w_cols: list[list[torch.Tensor]] | None = None) -> Forward:
        """All layers on inputs x [1 or K, N, in]; masks are inverted-dropout factors per hidden layer.

        x_t (x transposed, contiguous), x_cols (`input_columns(x)`) and w_cols
        (`weight_columns` per layer) may be passed in when already at hand.
        Without `for_backward`, only the first layer's input is kept transposed.
        """
        h = x
        h_cols = x_cols
        inputs_t = [x_t if x_t is not None or not for_backward else x.transpose(-1, -2).contiguous()]
        pre, post = [], []
        for layer, (weight, bias) in enumerate(views):
            z = linear(h, weight, bias, self.exact, h_cols, w_cols[layer] if w_cols is not None else None)
            h_cols = None
            if layer == len(views) - 1:
                return Forward(inputs_t, pre, post, z)
            a = activate(self.activation, z)
            pre.append(z)
            post.append(a)
            h = a * masks[layer] if masks is not None else a
            if for_backward:
                inputs_t.append(h.transpose(-1, -2).contiguous())
        raise AssertionError("unreachable")

    def backward(self, views: list[tuple[torch.Tensor, torch.Tensor]],
                 grad_views: list[tuple[torch.Tensor, torch.Tensor]], fwd: Forward, dz: torch.Tensor,
                 masks: list[torch.Tensor] | None = None) -> None:
        """Write dLoss/dθ into `grad_views` by the chain rule from dLoss/dz of the output, layer by layer back."""
        for layer in range(len(views) - 1, -1, -1):
            weight, _ = views[layer]
            g_weight, g_bias = grad_views[layer]
            dz_t = dz.transpose(-1, -2).contiguous()
            if self.exact:
                g_weight.copy_(rowdot(dz_t, fwd.inputs_t[layer]))
            else:
                g_weight.copy_(torch.matmul(dz_t, fwd.inputs_t[layer].transpose(-1, -2)))
            g_bias.copy_(dz_t.sum(-1))
            if layer == 0:
                return
            if self.exact:
                dh = rowdot(dz, weight.transpose(-1, -2).contiguous())
            else:
                dh = torch.matmul(dz, weight)
            if masks is not None:
                dh = dh * masks[layer - 1]
            dz = dh * activation_slope(self.activation, fwd.pre[layer - 1], fwd.post[layer - 1])

    def gradients(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor, onehot: torch.Tensor | None,
                  x_t: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean loss [K] and its gradient [K, P] at θ [K, P] on the examples (x, y), without dropout."""
        views = self.layout.views(theta)
        fwd = self.forward(views, x, x_t)
        loss = output_loss(self.task, fwd.out, y, onehot)
        dz = output_grad(self.task, fwd.out, y, onehot)
        grad = torch.zeros_like(theta)
        self.backward(views, self.layout.views(grad), fwd, dz)
        return loss, grad

    def outputs(self, theta: torch.Tensor, x: torch.Tensor) -> list[torch.Tensor]:
        """Each hidden layer's activations [K, M, width], then the `prediction` [K, M, n_out], on x [1 or K, M, in]."""
        fwd = self.forward(self.layout.views(theta), x, for_backward=False)
        return [*fwd.post, prediction(self.task, fwd.out)]
