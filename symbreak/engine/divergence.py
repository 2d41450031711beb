"""What a run that diverged, or whose loss blew up but stayed finite, is told: what happened and what to change.

Each message is made from the run's history, its config and what it saw at step 0 (`Start`), not from the
trainer that ran it: the trainer calls these, never the other way round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from symbreak.engine.history import History
from symbreak.settings.config import Config

# A finite loss that blows up still means the learning rate is too high: a train loss this many times its
# start, or ending this many times above it, gets a warning (a loss that spikes 30x and recovers does not).
OVERSHOOT_PEAK = 1e3
OVERSHOOT_END = 10.0
# A blow-up is blamed on the start or the data, not the learning rate, when step 0 saw a parameter or a
# feature past this size: unit-scale schemes start below 5, standardized features rarely pass 5.
START_SCALE = 10.0
FEATURE_SCALE = 10.0


@dataclass(frozen=True)
class Start:
    """What a run saw at step 0 that can explain a blow-up: its largest |parameter|, and the largest |feature| of
    its train inputs where they are not standardized (else 0)."""

    weights: float
    features: float

    @classmethod
    def of(cls, initial: torch.Tensor, x_train: np.ndarray) -> Start:
        """From the run's starting parameters [P] and the train inputs [N, d]."""
        return cls(float(initial.abs().max()), feature_scale(x_train))


def feature_scale(x: np.ndarray) -> float:
    """The largest |feature| of x where the features are not standardized, else 0."""
    largest = float(max(x.max(), -x.min()))
    if largest <= FEATURE_SCALE:
        return largest
    with np.errstate(all="ignore"):  # features near 1e308 overflow the mean: not standardized
        standardized = bool((np.abs(x.mean(axis=0)) < 1e-6).all() and (x.std(axis=0) < 1 + 1e-6).all())
    return 0.0 if standardized else largest


def scale_cause(start: Start, first_loss: float) -> str:
    """A start or features far from unit scale, from what the run saw at step 0, and what to change.

    Either one, rather than the learning rate, is the likely cause of a loss that blew up: a smaller rate
    would only postpone it. So is a loss that was not finite before the first update (`first_loss`). Empty
    when neither.
    """
    causes = []
    if start.weights > START_SCALE or (start.features <= FEATURE_SCALE and not math.isfinite(first_loss)):
        causes.append(f"the starting weights are far from unit scale (up to {start.weights:.3g}):"
                      " start smaller, e.g. init xavier_uniform")
    if start.features > FEATURE_SCALE:
        causes.append(f"the features are far from unit scale (up to {start.features:.3g}): Standardize features")
    return "; ".join(causes)


def held_reason(failed_at: int, held_step: int | None) -> str:
    """What a diverged run's reason adds when the state before its failing step had no finite loss either, so
    it is held at its last recorded finite state (`held_step`) or, with none, its start."""
    at = "its start" if held_step is None else f"step {held_step}, its last recorded finite state"
    return f"; the loss was not finite at step {failed_at - 1} either, so the run is held at {at}"


def divergence_message(history: History, run: int, config: Config, start: Start, diverged_at: int | None,
                       reason: str) -> str:
    """What happened and what to change, for the user; empty if the run is fine (`diverged_at` None)."""
    if diverged_at is None:
        return ""
    cause = scale_cause(start, history.metric("train_loss", run)[0])
    cause = cause or f"lower the learning rate (now {config.train.lr:g})"
    return (f"training diverged at step {diverged_at}: {reason}. "
            f"{cause[0].upper()}{cause[1:]}; the history before it is kept.")


def overshoot_message(history: History, run: int, config: Config, start: Start, diverged: bool) -> str:
    """A warning when the loss blew up but stayed finite (a learning rate too high, or a start or data far
    from unit scale); empty otherwise, and for a run that `diverged` (its error says it)."""
    if diverged or history.count < 2:
        return ""
    loss = history.metric("train_loss", run)
    first, peak = loss[0], int(np.argmax(loss))
    if not first > 0:
        return ""
    if loss[peak] >= OVERSHOOT_PEAK * first:
        what = (f"the loss jumped to {loss[peak]:.3g} at step {int(history.steps[peak]):,} "
                f"(it started at {first:.3g})")
    elif loss[-1] >= OVERSHOOT_END * first:
        what = f"the loss is {loss[-1]:.3g} now, far above where it started ({first:.3g})"
    else:
        return ""
    cause = scale_cause(start, first)
    if cause:
        return f"{what}: {cause}."
    return (f"{what}: the learning rate (now {config.train.lr:g}) overshoots. "
            "Lower it to watch the neurons learn.")
