"""The MLP: parameter layout, init schemes, and its one forward and one backward pass (a `Workspace`) over K runs.

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
from itertools import pairwise

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

    def pruned(self, mask: torch.Tensor, k: int) -> torch.Tensor:
        """What a weight mask [P] or [K, P] (1 keep, 0 prune) prunes, as bool [K, P]: weights only, biases stay."""
        pruned = (torch.as_tensor(mask).reshape(-1, self.n_params) == 0).expand(k, -1).clone()
        for _, bias in self.views(pruned):
            bias.fill_(False)
        return pruned


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


def activation_slope(name: str, a: torch.Tensor) -> torch.Tensor | float:
    """da/dz from the activation a (for relu and leaky_relu a > 0 exactly where z > 0)."""
    if name == "sigmoid":
        return a * (1.0 - a)
    if name == "tanh":
        return 1.0 - a * a
    if name == "relu":
        return (a > 0).to(a.dtype)
    if name == "leaky_relu":
        return torch.full_like(a, LEAKY_SLOPE).masked_fill_(a > 0, 1.0)  # LEAKY_SLOPE in a's own precision
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



@dataclass(frozen=True)
class MLP:
    """The network: layer sizes, hidden activation, the task its output and loss serve, and its arithmetic.

    Its forward and backward pass are a `Workspace`'s: made once for a θ and inputs that stay where they lie
    (a trainer's), or for one call (`outputs`, a gradient at some other θ).
    """

    layout: Layout
    activation: str
    task: str
    exact: bool = True

    def workspace(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None = None,
                  onehot: torch.Tensor | None = None, x_t: torch.Tensor | None = None,
                  grad: torch.Tensor | None = None, dropout: bool = False) -> Workspace:
        """A `Workspace` for θ [K, P] on inputs x [1 or K, N, in]; see there for the rest."""
        return Workspace(self, theta, x, y, onehot, x_t, grad, dropout)

    def outputs(self, theta: torch.Tensor, x: torch.Tensor) -> list[torch.Tensor]:
        """Each hidden layer's activations [K, M, width], then the `prediction` [K, M, n_out], on x [1 or K, M, in]."""
        work = self.workspace(theta, x)
        out = work.forward()
        return [*work.post, prediction(self.task, out)]


WORKSPACE_ELEMENTS = 1 << 20  # about 4 MB in float32: 32 runs side by side of the default network fit


class _Layer:
    """One layer of a `Workspace`: views of its operands, the buffers it writes, and how it forms its sums."""

    def __init__(self, activation: str, weight: torch.Tensor, bias: torch.Tensor, h: torch.Tensor,
                 h_t: torch.Tensor | None, hidden: bool, sums: str, scratch: torch.Tensor, tmp: torch.Tensor,
                 dropout: bool) -> None:
        k, (out, fan_in), n, dtype = max(weight.shape[0], h.shape[0]), weight.shape[-2:], h.shape[-2], h.dtype
        self.weight, self.h, self.h_t, self.sums, self.bias_u = weight, h, h_t, sums, bias.unsqueeze(-2)
        self.cols = list(zip(input_columns(h), weight_columns(weight))) if sums != "blas" else []
        self.products = scratch[: k * n * out * fan_in] if sums == "kept" else None
        if self.cols:
            (self.h_col, self.w_col), *self.rest = self.cols
            self.tmp = tmp[: k * n * out].view(k, n, out)
        elif self.products is not None:
            self.prod, self.h_u, self.w_u = self.products.view(k, n, out, fan_in), h.unsqueeze(-2), weight.unsqueeze(-3)
        if sums == "blas" or h_t is not None:
            self.w_t_view = weight.transpose(-1, -2)
        new = (lambda *shape: torch.empty(shape, dtype=dtype)) if hidden else (lambda *shape: None)
        self.z = new(k, n, out)
        self.a = self.z if activation == "linear" else new(k, n, out)  # `activate` returns z itself
        self.h_next = new(k, n, out) if dropout else self.a  # the next layer's input: a, or a times the mask
        self.h_next_t = new(k, out, n) if h_t is not None else None
        if self.h_next_t is not None:
            self.h_next_view = self.h_next.transpose(-1, -2)
            self.a_t = self.a.transpose(-1, -2) if dropout else self.h_next_t  # whence the slope da/dz

    def keep_for_backward(self, g_weight: torch.Tensor, g_bias: torch.Tensor, dz: torch.Tensor | None,
                          dz_t: torch.Tensor, fill: tuple[torch.Tensor, torch.Tensor] | None) -> None:
        """Where the backward pass writes this layer's gradient and reads its dLoss/dz ([K, N, out], and
        transposed; `fill` copies the one from the other)."""
        k, (out, n), fan_in = dz_t.shape[0], dz_t.shape[-2:], self.weight.shape[-1]
        self.g_weight, self.g_bias, self.dz, self.dz_t, self.fill = g_weight, g_bias, dz, dz_t, fill
        self.h_t_view = self.h_t.transpose(-1, -2)
        self.w_t = self.w_t_view
        if self.sums != "blas" and not self.w_t_view.is_contiguous():
            self.w_t = torch.empty(k, fan_in, out, dtype=self.weight.dtype)
        if self.products is not None:
            self.g_prod, self.h_prod = self.products.view(k, out, fan_in, n), self.products.view(k, fan_in, n, out)
            self.in_t_u, self.dz_t_u, self.w_t_u = self.h_t.unsqueeze(-3), dz_t.unsqueeze(-2), self.w_t.unsqueeze(-2)
            self.dz_u = dz.unsqueeze(-3) if dz is not None else None

    # The sums of a layer whose products are not kept (those that are, and a small fan-in's terms, are summed
    # where the workspace's passes run): through rowdot, or BLAS.
    def transient_linear(self) -> torch.Tensor:
        """z = h · weightᵀ + bias into the layer's buffer (a new tensor for the output layer)."""
        if self.sums == "rowdot":
            return torch.add(rowdot(self.h, self.weight), self.bias_u, out=self.z)
        return torch.add(torch.matmul(self.h, self.w_t_view), self.bias_u, out=self.z)

    def transient_weight_grad(self) -> None:
        """dLoss/dweight = dzᵀ · h into the gradient."""
        if self.sums == "rowdot":
            self.g_weight.copy_(rowdot(self.dz_t, self.h_t))
        else:
            self.g_weight.copy_(torch.matmul(self.dz_t, self.h_t_view))

    def transient_input_grad(self, out: torch.Tensor) -> torch.Tensor:
        """dLoss/dh = dz · weight, transposed [K, in, N], into `out`."""
        if self.sums == "rowdot":
            return out.copy_(rowdot(self.dz, self.w_t).transpose(-1, -2))
        return out.copy_(torch.matmul(self.dz, self.weight).transpose(-1, -2))


class Workspace:
    """The network's forward and backward pass at θ [K, P] on inputs x [1 or K, N, in], with views and buffers
    made once: θ (and x) are read where they lie, so a trainer updating θ in place runs the same workspace step
    after step.

    With `grad` [K, P] and the targets (y [N] or [K, N], onehot for multiclass) the backward pass writes dLoss/dθ
    of the mean loss into `grad`; `x_t` is x transposed, contiguous, if at hand. With `dropout` each pass takes
    inverted-dropout factors [K, N, width] per hidden layer. Every sum is an elementwise product summed over a
    contiguous last dimension: of products kept in one scratch buffer when the workspace is `small` enough to
    keep, else through `rowdot`, which chunks large ones. A hidden layer's dLoss/dz is formed transposed,
    [K, out, N], as its weight gradient wants it. `arithmetic="blas"` (net.exact False) uses matmuls instead.
    """

    def __init__(self, net: MLP, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None = None,
                 onehot: torch.Tensor | None = None, x_t: torch.Tensor | None = None,
                 grad: torch.Tensor | None = None, dropout: bool = False) -> None:
        self.net, self.x, self.y, self.onehot, self.grad, self.dropout = net, x, y, onehot, grad, dropout
        self.y_col, self.out = y.unsqueeze(-1) if y is not None and net.task != "multiclass" else None, None
        sizes, k, n = net.layout.sizes, max(theta.shape[0], x.shape[0]), x.shape[-2]
        products = [k * n * fan_in * out for fan_in, out in pairwise(sizes)]
        self.small = max(products) + 6 * k * n * sum(sizes[1:]) <= WORKSPACE_ELEMENTS
        sums = "blas" if not net.exact else "kept" if self.small else "rowdot"
        scratch = torch.empty(max(products) if sums == "kept" else 0, dtype=x.dtype)
        tmp = torch.empty(k * n * max(sizes[1:]), dtype=x.dtype)
        if grad is not None and x_t is None:
            x_t = x.transpose(-1, -2).contiguous()
        self.layers: list[_Layer] = []
        h, h_t = x, x_t if grad is not None else None
        for number, (weight, bias) in enumerate(net.layout.views(theta)):
            layer = _Layer(net.activation, weight, bias, h, h_t, number < len(sizes) - 2, sums, scratch, tmp, dropout)
            self.layers.append(layer)
            h, h_t = layer.h_next, layer.h_next_t
        if grad is not None:
            self._keep_for_backward(net.layout.views(grad), k, n)

    def _keep_for_backward(self, grad_views: list[tuple[torch.Tensor, torch.Tensor]], k: int, n: int) -> None:
        self.dz_out = torch.empty(k, n, self.net.layout.sizes[-1], dtype=self.x.dtype)
        for number, (layer, (g_weight, g_bias)) in enumerate(zip(self.layers, grad_views)):
            if layer.a is None:  # the output's dLoss/dz comes as [K, N, out]; transposed where that is a copy
                dz, dz_t = self.dz_out, self.dz_out.transpose(-1, -2)
                fill = None if dz_t.is_contiguous() else (torch.empty(dz_t.shape, dtype=dz.dtype), dz_t)
                dz_t = fill[0] if fill else dz_t
            else:  # a hidden layer's comes transposed; as [K, N, out] it is needed only a layer further back
                dz_t = torch.empty_like(layer.h_next_t)
                fill = (torch.empty_like(layer.z), dz_t.transpose(-1, -2)) if number else None
                dz = fill[0] if fill else None
            layer.keep_for_backward(g_weight, g_bias, dz, dz_t, fill)

    def load(self, rows: torch.Tensor, x: torch.Tensor, y: torch.Tensor, onehot: torch.Tensor | None) -> None:
        """Copy each run's examples `rows` [K, N] of a data set (x [M, in], y [M], onehot [M, classes]) into the
        inputs: a mini-batch per run, for a workspace made on buffers of that shape."""
        rows = rows.reshape(-1)
        torch.index_select(x, 0, rows, out=self.x.view(rows.shape[0], -1))
        torch.index_select(y, 0, rows, out=self.y.view(-1))
        if onehot is not None:
            torch.index_select(onehot, 0, rows, out=self.onehot.view(rows.shape[0], -1))
        if self.grad is not None:
            self.layers[0].h_t.copy_(self.x.transpose(-1, -2))

    @property
    def post(self) -> list[torch.Tensor]:
        """Each hidden layer's activations [K, N, width] (before dropout) from the last `forward`."""
        return [layer.a for layer in self.layers[:-1]]

    def forward(self, masks: list[torch.Tensor] | None = None) -> torch.Tensor:
        """The output logits [K, N, n_out] (a new tensor); the hidden activations stay in the buffers."""
        if (masks is not None) != self.dropout:
            raise ValueError("workspace: dropout masks go to a workspace made for dropout, and only there")
        activation = self.net.activation
        for number, layer in enumerate(self.layers):
            if layer.cols:  # a small fan-in, term by term: elementwise, so just as exact, and cheaper
                z = torch.mul(layer.h_col, layer.w_col, out=layer.z).add_(layer.bias_u)
                for h_col, w_col in layer.rest:
                    z.add_(torch.mul(h_col, w_col, out=layer.tmp))
            elif layer.products is not None:
                z = torch.sum(torch.mul(layer.h_u, layer.w_u, out=layer.prod), -1, out=layer.z).add_(layer.bias_u)
            else:
                z = layer.transient_linear()
            if layer.a is None:
                self.out = z
                return z
            activate(activation, z, layer.a)
            if masks is not None:
                torch.mul(layer.a, masks[number], out=layer.h_next)
            if layer.h_next_t is not None:
                layer.h_next_t.copy_(layer.h_next_view)
        raise AssertionError("unreachable")

    def backward(self, masks: list[torch.Tensor] | None = None) -> None:
        """Write dLoss/dθ into `grad` by the chain rule from the last `forward` (with the same masks), layer by
        layer back from the output's dLoss/dz."""
        net, layers = self.net, self.layers
        output_grad(net.task, self.out, self.y, self.onehot, self.dz_out, self.y_col)
        for number in range(len(layers) - 1, -1, -1):
            layer = layers[number]
            if layer.fill is not None:
                layer.fill[0].copy_(layer.fill[1])
            if layer.products is not None:
                torch.sum(torch.mul(layer.dz_t_u, layer.in_t_u, out=layer.g_prod), -1, out=layer.g_weight)
            else:
                layer.transient_weight_grad()
            torch.sum(layer.dz_t, -1, out=layer.g_bias)
            if not number:
                return
            if layer.w_t is not layer.w_t_view:
                layer.w_t.copy_(layer.w_t_view)
            below = layers[number - 1]
            if layer.products is not None:
                dz_t = torch.sum(torch.mul(layer.w_t_u, layer.dz_u, out=layer.h_prod), -1, out=below.dz_t)
            else:
                dz_t = layer.transient_input_grad(below.dz_t)
            if masks is not None:
                dz_t.mul_(masks[number - 1].transpose(-1, -2))
            dz_t.mul_(activation_slope(net.activation, below.a_t))
