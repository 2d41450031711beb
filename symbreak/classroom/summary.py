"""What a student's run tells the class: a small JSON-able summary of its state, and the exact replay of a run.

The engine is deterministic: the same configuration stepped the same number of times gives the same numbers, bit
for bit, on one machine. So a summary that holds the configuration and the step count is enough to rebuild the
run, on the teacher's page or after the student's worker restarted. Another CPU can round a sum differently, so
a replay on another kind of machine may differ in the last bits (and, for a run on the edge of diverging, more).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from symbreak.engine.trainer import Trainer
from symbreak.settings.config import Config

# The settings that decide whether the neurons can split, in the order the board lists them.
SYMMETRY_FIELDS = ("init", "bias_init", "perturb", "init_weights", "dropout", "hidden", "activation", "optimizer",
                   "lr", "batch_size", "seed", "dataset")
SERIES_POINTS = 48  # (step, gap) points a summary carries for the board's chart
STILL_TIED = "nothing: still tied"
RANDOM_START, TYPED_START, BIASES, PERTURBATION, DROPOUT, OTHER = (
    "a random start", "typed-in weights", "different biases", "a perturbation", "dropout", "something else")
# The board's groups, in the order of the lesson "What breaks symmetry" (a constant start, then what breaks it).
BREAKERS = (STILL_TIED, RANDOM_START, DROPOUT, PERTURBATION, BIASES, TYPED_START, OTHER)
CONSTANT_SCHEMES = ("zeros", "ones", "constant")


def _random(scheme: str) -> bool:
    return scheme.split(":", 1)[0] not in CONSTANT_SCHEMES


def breaker(flat: dict[str, str], split: bool) -> str:
    """What broke the tie of a run with these settings (STILL_TIED while its neurons are identical)."""
    if not split:
        return STILL_TIED
    if flat.get("init_weights"):
        return TYPED_START
    if _random(flat.get("init", "")):
        return RANDOM_START
    if _random(flat.get("bias_init", "zeros")):
        return BIASES
    if float(flat.get("perturb", "0") or 0) > 0:
        return PERTURBATION
    if float(flat.get("dropout", "0") or 0) > 0:
        return DROPOUT
    return OTHER


def _number(value: float) -> float | None:
    """A float JSON can carry (None for NaN or infinity)."""
    return float(value) if math.isfinite(value) else None


def summarise(trainer: Trainer, run: int = 0) -> dict[str, Any]:
    """The run's summary for the class board: settings, step, gap and distinct neurons per layer, loss,
    accuracy, whether it diverged, and a thinned (step, gap) series of its first hidden layer."""
    flat = trainer.config.to_flat()
    history, tol = trainer.history, trainer.config.tol
    layers = max(len(trainer.config.model.hidden), 1)
    gaps, distincts, neurons = [], [], []
    for layer in range(layers):
        gap, count = history.symmetry(layer, run, tol)
        gaps.append(_number(float(gap[history.count - 1])))
        distincts.append(int(count[history.count - 1]))
        neurons.append(int(history.neuron_vectors(layer, run, start=history.count - 1).shape[1]))
    gap0, _ = history.symmetry(0, run, tol)
    picks = np.unique(np.linspace(0, history.count - 1, min(SERIES_POINTS, history.count)).round().astype(int))
    accuracy = history.metric("train_accuracy", run)[-1]
    split = any(g is None or g > 0 for g in gaps)
    return {
        "step": int(trainer.step_count),
        "config": flat,
        "settings": {key: flat[key] for key in SYMMETRY_FIELDS},
        "gap": gaps,
        "distinct": distincts,
        "neurons": neurons,
        "loss": _number(float(history.metric("train_loss", run)[-1])),
        "accuracy": _number(float(accuracy)),
        "diverged": trainer.diverged_at[run] is not None,
        "breaker": breaker(flat, split),
        "series": [[int(history.steps[i]), _number(float(gap0[i]))] for i in picks],
    }


def changed(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """Whether a summary says something the last published one did not (its series aside, which follows the step)."""
    return old is None or any(old.get(k) != v for k, v in new.items() if k != "series")


def replay(flat: dict[str, str], step: int) -> Trainer:
    """The run a summary describes, rebuilt: the same configuration trained for the same number of steps."""
    trainer = Trainer(Config.from_flat(flat))
    if step > 0:
        trainer.step(step)
    return trainer
