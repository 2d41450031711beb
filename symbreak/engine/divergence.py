"""What a run that diverged, or whose loss blew up but stayed finite, is told: what happened and what to change."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from symbreak.engine.trainer import Trainer

# A finite loss that blows up still means the learning rate is too high: a train loss this many times its
# start, or ending this many times above it, gets a warning (a loss that spikes 30x and recovers does not).
OVERSHOOT_PEAK = 1e3
OVERSHOOT_END = 10.0
# A blow-up is blamed on the start or the data, not the learning rate, when step 0 saw a parameter or a
# feature past this size: unit-scale schemes start below 5, standardized features rarely pass 5.
START_SCALE = 10.0
FEATURE_SCALE = 10.0


def feature_scale(x: np.ndarray) -> float:
    """The largest |feature| of x where the features are not standardized, else 0."""
    largest = float(max(x.max(), -x.min()))
    if largest <= FEATURE_SCALE:
        return largest
    with np.errstate(all="ignore"):  # features near 1e308 overflow the mean: not standardized
        standardized = bool((np.abs(x.mean(axis=0)) < 1e-6).all() and (x.std(axis=0) < 1 + 1e-6).all())
    return 0.0 if standardized else largest


def scale_cause(trainer: Trainer, run: int) -> str:
    """A start or features far from unit scale, from what the run saw at step 0, and what to change.

    Either one, rather than the learning rate, is the likely cause of a loss that blew up: a smaller rate
    would only postpone it. So is a loss that was not finite before the first update. Empty when neither.
    """
    start = float(trainer.initial[run].abs().max())
    features = feature_scale(trainer.dataset.x_train)
    causes = []
    if start > START_SCALE or (features <= FEATURE_SCALE
                               and not math.isfinite(trainer.history.metric("train_loss", run)[0])):
        causes.append(f"the starting weights are far from unit scale (up to {start:.3g}):"
                      " start smaller, e.g. init xavier_uniform")
    if features > FEATURE_SCALE:
        causes.append(f"the features are far from unit scale (up to {features:.3g}): Standardize features")
    return "; ".join(causes)


def divergence_message(trainer: Trainer, run: int) -> str:
    """What happened and what to change, for the user; empty if the run is fine."""
    if trainer.diverged_at[run] is None:
        return ""
    cause = scale_cause(trainer, run) or f"lower the learning rate (now {trainer.configs[run].train.lr:g})"
    return (f"training diverged at step {trainer.diverged_at[run]}: {trainer.diverged_reason[run]}. "
            f"{cause[0].upper()}{cause[1:]}; the history before it is kept.")


def overshoot_message(trainer: Trainer, run: int) -> str:
    """A warning when the loss blew up but stayed finite (a learning rate too high, or a start or data far
    from unit scale); empty otherwise."""
    history = trainer.history
    if trainer.diverged_at[run] is not None or history.count < 2:
        return ""
    loss = history.metric("train_loss", run)
    start, peak = loss[0], int(np.argmax(loss))
    if not start > 0:
        return ""
    if loss[peak] >= OVERSHOOT_PEAK * start:
        what = (f"the loss jumped to {loss[peak]:.3g} at step {int(history.steps[peak]):,} "
                f"(it started at {start:.3g})")
    elif loss[-1] >= OVERSHOOT_END * start:
        what = f"the loss is {loss[-1]:.3g} now, far above where it started ({start:.3g})"
    else:
        return ""
    cause = scale_cause(trainer, run)
    if cause:
        return f"{what}: {cause}."
    return (f"{what}: the learning rate (now {trainer.configs[run].train.lr:g}) overshoots. "
            "Lower it to watch the neurons learn.")
