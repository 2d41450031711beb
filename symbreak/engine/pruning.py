"""Weight masks: which weights each run prunes, from its config's `mask` setting and a mask given to the trainer.

A pruned weight is 0.0 from the first forward pass and is never updated (the optimizer zeroes its gradient);
biases are never pruned. The trainer asks `pruned` once, at set-up: a run without a mask costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from symbreak.engine.model import Layout
from symbreak.settings.config import Config
from symbreak.settings.explicit import mask_values


def mask_vector(text: str, layout: Layout) -> torch.Tensor:
    """A `mask` setting's JSON as a float64 [P] vector of 1 (keep) and 0 (prune), laid out as the parameters;
    a ConfigError when its layers do not have the network's weight shapes."""
    return torch.tensor(mask_values(text, [(o, i) for _, _, o, i in layout.slices]), dtype=torch.float64)


def pruned(layout: Layout, configs: Sequence[Config], mask: torch.Tensor | None = None) -> torch.Tensor | None:
    """What each of K runs prunes, as bool [K, P] (None when no run prunes anything): each config's `mask`
    setting, and on top of it `mask` [P] or [K, P] (1 keep, 0 prune) given to the trainer."""
    texts = [config.init.mask for config in configs]
    if mask is None and not any(texts):
        return None
    keep = torch.ones(len(configs), layout.n_params, dtype=torch.float64)
    if mask is not None:
        keep = keep * torch.as_tensor(mask, dtype=torch.float64).reshape(-1, layout.n_params)
    for run, text in enumerate(texts):
        if text:
            keep[run] *= mask_vector(text, layout)
    return layout.pruned(keep, len(configs))

