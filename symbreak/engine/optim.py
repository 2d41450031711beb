"""The optimizers: SGD, SGD with momentum, and Adam, updating K runs' flat parameters [K, P] in place.

Each run has its own learning rate and weight decay ([K, 1] columns). The
update rules are torch.optim's: `SGD` (momentum 0.9, no dampening, no
Nesterov) and `Adam` (Kingma & Ba, 2015, with bias correction), weight decay
added to the gradient before the update as their `weight_decay` does (L2, not
AdamW's decoupled decay). Every operation is elementwise, so identical
neurons get identical updates. Pruned weights (a weight mask) start at 0.0 and get a zero gradient, so no rule
or weight decay moves them: their decay term, moments and step are all exactly 0 (one operation per update).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

MOMENTUM = 0.9
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


class Optimizer:
    """One optimizer over K runs, with the state it carries from step to step (zero until the first update)."""

    def __init__(self, name: str, lr: torch.Tensor, weight_decay: torch.Tensor, theta: torch.Tensor,
                 pruned: torch.Tensor | None = None) -> None:
        rules: dict[str, Callable[[torch.Tensor, torch.Tensor, int], None]] = {
            "sgd": self._sgd, "momentum": self._momentum, "adam": self._adam}
        if name not in rules:
            raise ValueError(f"optimizer: {name!r} is not one of {', '.join(rules)}")
        self.name = name
        self._rule = rules[name]
        self.lr = lr
        self.weight_decay = weight_decay
        self.decays = bool((weight_decay != 0).any())
        self.pruned = pruned  # bool [K, P]: the entries held at 0.0, or None (no work at all)
        self.reset(theta)

    def reset(self, theta: torch.Tensor) -> None:
        """Forget the state: the first and second moments start at zero, shaped like θ."""
        self.velocity = torch.zeros_like(theta)
        self.second = torch.zeros_like(theta)

    def update(self, theta: torch.Tensor, grad: torch.Tensor, step: int) -> None:
        """Update θ in place from `grad`, as update number `step` + 1 (Adam's bias correction counts from 1)."""
        if self.pruned is not None:
            grad.masked_fill_(self.pruned, 0.0)
        if self.decays:
            grad = grad + self.weight_decay * theta
        self._rule(theta, grad, step + 1)

    def _sgd(self, theta: torch.Tensor, grad: torch.Tensor, t: int) -> None:
        theta.sub_(grad * self.lr)

    def _momentum(self, theta: torch.Tensor, grad: torch.Tensor, t: int) -> None:
        self.velocity.mul_(MOMENTUM).add_(grad)
        theta.sub_(self.velocity * self.lr)

    def _adam(self, theta: torch.Tensor, grad: torch.Tensor, t: int) -> None:
        beta1, beta2 = ADAM_BETAS
        self.velocity.mul_(beta1).add_(grad * (1 - beta1))
        self.second.mul_(beta2).add_(grad * grad * (1 - beta2))
        m_hat = self.velocity / (1 - beta1**t)
        v_hat = self.second / (1 - beta2**t)
        theta.sub_(m_hat / (torch.sqrt(v_hat) + ADAM_EPS) * self.lr)
