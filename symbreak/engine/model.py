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

from symbreak.settings.config import Config
from symbreak.settings.explicit import parse_explicit
from symbreak.settings.values import ConfigError, parse_scheme

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
    if name == "zeros":
        return torch.zeros(shape, dtype=torch.float64)
    if name == "constant":
        return torch.full(shape, float(param), dtype=torch.float64)
    std = {"normal": param, "xavier_normal": math.sqrt(2.0 / (fan_in + fan_out)), "he_normal": math.sqrt(2.0 / fan_in)}
    if name in std:
        return torch.randn(shape, generator=generator, dtype=torch.float64) * float(std[name])
    bound = {"uniform": param, "xavier_uniform": math.sqrt(6.0 / (fan_in + fan_out)),
             "he_uniform": math.sqrt(6.0 / fan_in)}
    return (torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1) * float(
        bound.get(name, 1.0 / math.sqrt(fan_in)))  # torch_default: U(±1/√fan_in)


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


def activate(name: str, z: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """The activation by position-independent elementwise operations, into `out` if given (the identity: z)."""
    if name == "sigmoid":
        return sigmoid(z, out)
    if name == "tanh":
        return torch.tanh(z, out=out)
    if name == "relu":
        return torch.clamp_min(z, 0.0, out=out)
    if name == "leaky_relu":
        return torch.where(z > 0, z, z * LEAKY_SLOPE, out=out)
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


def sigmoid(z: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """1 / (1 + e^(-z)), into `out` if given; torch.sigmoid's scalar tail can differ from its vector body."""
    return torch.neg(z, out=out).exp_().add_(1.0).reciprocal_()


def output_loss(task: str, z: torch.Tensor, y: torch.Tensor, onehot: torch.Tensor | None,
                out: torch.Tensor | None = None) -> torch.Tensor:
    """Per-run mean loss [K] (written into `out` if given), with PyTorch's conventions for each task.

    binary: one logit, sigmoid + binary cross-entropy (as BCEWithLogitsLoss);
    multiclass: softmax cross-entropy over the logits (as CrossEntropyLoss);
    regression: mean squared error (as MSELoss).
    """
    if task == "binary":
        logit = z[..., 0]
        loss = logit.clamp_min(0.0).sub_(logit * y).add_(logit.abs().neg_().exp_().log1p_())
    elif task == "multiclass":
        shifted = z - z.amax(-1, keepdim=True)
        loss = torch.log(torch.exp(shifted).sum(-1)) - (shifted * onehot).sum(-1)
    else:
        diff = z[..., 0] - y
        loss = diff * diff
    return torch.sum(loss, -1, out=out).div_(z.shape[-2])


def output_grad(task: str, z: torch.Tensor, y: torch.Tensor, onehot: torch.Tensor | None,
                out: torch.Tensor | None = None, y_col: torch.Tensor | None = None) -> torch.Tensor:
    """dLoss/dz [K, N, n_out] of the mean loss: (p − y)/N, (softmax − onehot)/N, or 2(z − y)/N, into `out` if
    given (y_col: `y.unsqueeze(-1)`, if at hand)."""
    n = z.shape[-2]
    y_col = y.unsqueeze(-1) if y_col is None and task != "multiclass" else y_col
    if task == "binary":
        return sigmoid(z, out).sub_(y_col).div_(n)
    if task == "multiclass":
        expz = torch.sub(z, z.amax(-1, keepdim=True), out=out).exp_()
        return expz.div_(expz.sum(-1, keepdim=True)).sub_(onehot).div_(n)
    return torch.sub(z, y_col, out=out).mul_(2.0 / n)


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


WORKSPACE_ELEMENTS = 1 << 20  # about 4 MB in float32: 32 runs side by side of the default network fit


class _Layer:
    """One layer's kept operands and buffers in a `Workspace`; the products of its sums share `scratch`."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, g_weight: torch.Tensor, g_bias: torch.Tensor,
                 h: torch.Tensor, h_t: torch.Tensor, hidden: bool, scratch: torch.Tensor, tmp: torch.Tensor) -> None:
        k, (out, fan_in), n = weight.shape[0], weight.shape[-2:], h.shape[-2]
        products, dtype = scratch[: k * n * out * fan_in], h.dtype
        self.bias_u, self.cols = bias.unsqueeze(-2), list(zip(input_columns(h), weight_columns(weight)))
        self.tmp, self.prod = tmp[: k * n * out].view(k, n, out), products.view(k, n, out, fan_in)
        self.h_u, self.w_u = h.unsqueeze(-2), weight.unsqueeze(-3)
        new = (lambda *shape: torch.empty(shape, dtype=dtype)) if hidden else (lambda *shape: None)
        self.z, self.a, self.a_t = new(k, n, out), new(k, n, out), new(k, out, n)
        self.g_weight, self.g_bias, self.in_t_u = g_weight, g_bias, h_t.unsqueeze(-3)
        self.g_prod, self.h_prod = products.view(k, out, fan_in, n), products.view(k, fan_in, n, out)
        self.w_t_view = weight.transpose(-1, -2)
        self.w_t = self.w_t_view if self.w_t_view.is_contiguous() else torch.empty(k, fan_in, out, dtype=dtype)
        self.w_t_u = self.w_t.unsqueeze(-2)


class Workspace:
    """`MLP.forward` and `MLP.backward` at one θ [K, P] (updated in place) on fixed inputs, with every buffer kept.

    Views of θ, its gradient and x (columns, unsqueezed, transposed) are made once, and each intermediate is
    written into a kept buffer by the same operation on operands of the same shapes, reduced over the same
    contiguous last dimension: bitwise the plain path's numbers at about half the dispatcher calls. A hidden
    layer's dLoss/dz is formed transposed, [K, out, N], from the products of `rowdot(dz, wᵀ)`, as its weight
    gradient wants it. Exact arithmetic, no dropout; `build` gives None where a product would need chunking
    or the buffers would be large.
    """

    def __init__(self, net: MLP, views: list, grad_views: list, x: torch.Tensor, x_t: torch.Tensor,
                 y: torch.Tensor, onehot: torch.Tensor | None, sizes: list[int]) -> None:
        self.net, self.y, self.onehot, self.y_col, self.out = net, y, onehot, y.unsqueeze(-1), None
        k, n = views[0][0].shape[0], x.shape[-2]
        scratch = torch.empty(max(sizes), dtype=x.dtype)
        tmp = torch.empty(k * n * max(net.layout.sizes[1:]), dtype=x.dtype)
        self.layers: list[_Layer] = []
        h, h_t = x, x_t
        for number, ((weight, bias), (g_weight, g_bias)) in enumerate(zip(views, grad_views)):
            layer = _Layer(weight, bias, g_weight, g_bias, h, h_t, number < len(views) - 1, scratch, tmp)
            self.layers.append(layer)
            if layer.a is not None:
                layer.a = layer.z if net.activation == "linear" else layer.a  # `activate` returns z itself
                h, h_t, layer.a_view = layer.a, layer.a_t, layer.a.transpose(-1, -2)
        self.dz_out = torch.empty(k, n, net.layout.sizes[-1], dtype=x.dtype)
        for number, layer in enumerate(self.layers):
            if layer.a is None:  # the output's dLoss/dz comes as [K, N, out]; transposed where that is a copy
                dz, dz_t = self.dz_out, self.dz_out.transpose(-1, -2)
                layer.fill = None if dz_t.is_contiguous() else (torch.empty(dz_t.shape, dtype=x.dtype), dz_t)
                dz_t = layer.fill[0] if layer.fill else dz_t
            else:  # a hidden layer's comes transposed; as [K, N, out] it is needed only a layer further back
                dz_t = torch.empty_like(layer.a_t)
                layer.fill = (torch.empty_like(layer.a), dz_t.transpose(-1, -2)) if number else None
                dz = layer.fill[0] if layer.fill else None
            layer.dz_t, layer.dz_t_u = dz_t, dz_t.unsqueeze(-2)
            layer.dz_u = dz.unsqueeze(-3) if dz is not None else None

    @classmethod
    def build(cls, net: MLP, views: list, grad_views: list, x: torch.Tensor, x_t: torch.Tensor, y: torch.Tensor,
              onehot: torch.Tensor | None) -> Workspace | None:
        k, n, sizes = views[0][0].shape[0], x.shape[-2], net.layout.sizes
        products = [k * n * fan_in * out for fan_in, out in zip(sizes[:-1], sizes[1:])]
        kept = max(products) + 6 * k * n * sum(sizes[1:])
        if not net.exact or max(products) > CHUNK_ELEMENTS or kept > WORKSPACE_ELEMENTS:
            return None
        return cls(net, views, grad_views, x, x_t, y, onehot, products)

    def forward(self) -> torch.Tensor:
        """The output logits [K, N, n_out] (a new tensor); the hidden activations stay in the buffers."""
        activation = self.net.activation
        for layer in self.layers:
            if layer.cols:
                (h_col, w_col), *rest = layer.cols
                z = torch.mul(h_col, w_col, out=layer.z).add_(layer.bias_u)
                for h_col, w_col in rest:
                    z.add_(torch.mul(h_col, w_col, out=layer.tmp))
            else:
                z = torch.sum(torch.mul(layer.h_u, layer.w_u, out=layer.prod), -1, out=layer.z).add_(layer.bias_u)
            self.out = z
            if layer.a is None:
                return z
            activate(activation, z, layer.a)
            layer.a_t.copy_(layer.a_view)
        raise AssertionError("unreachable")

    def backward(self) -> None:
        """Write dLoss/dθ into the gradient views from the last `forward`."""
        net, layers = self.net, self.layers
        output_grad(net.task, self.out, self.y, self.onehot, self.dz_out, self.y_col)
        for number in range(len(layers) - 1, -1, -1):
            layer = layers[number]
            if layer.fill is not None:
                layer.fill[0].copy_(layer.fill[1])
            torch.sum(torch.mul(layer.dz_t_u, layer.in_t_u, out=layer.g_prod), -1, out=layer.g_weight)
            torch.sum(layer.dz_t, -1, out=layer.g_bias)
            if not number:
                return
            if layer.w_t is not layer.w_t_view:
                layer.w_t.copy_(layer.w_t_view)
            below = layers[number - 1]
            dz_t = torch.sum(torch.mul(layer.w_t_u, layer.dz_u, out=layer.h_prod), -1, out=below.dz_t)
            dz_t.mul_(activation_slope(net.activation, below.a_t, below.a_t))
