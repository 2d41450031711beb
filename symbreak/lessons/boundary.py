"""What the lessons about the starting weights share: a network's prediction over the input plane (its decision
boundary), read through the probe, a run's final metric, and training batched runs in chunks with progress. Pure
functions of trainers (no streamlit)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from symbreak.engine import probe
from symbreak.engine.trainer import Trainer

GRID = probe.PLANE_RESOLUTION  # points per side of the decision-boundary grid, as in the Playground


@dataclass(frozen=True)
class Boundary:
    """A network's probability of class 1 over a square grid of the input plane, and the training data."""

    xs: np.ndarray       # [G]
    ys: np.ndarray       # [G]
    prob: np.ndarray     # [G, G], rows along ys
    x_train: np.ndarray  # [N, 2]
    y_train: np.ndarray  # [N]


def boundary(trainer: Trainer, run: int, resolution: int = GRID) -> Boundary:
    """The run's current prediction over the plane of its 2-input binary dataset (the probe's grid)."""
    seen = probe.of_run(trainer, run=run, resolution=resolution)
    prob = seen.prediction[:, 0].reshape(len(seen.ys), len(seen.xs))
    return Boundary(seen.xs, seen.ys, prob, trainer.dataset.x_train, trainer.dataset.y_train)


def flat_prediction(b: Boundary, tol: float = 1e-6) -> float | None:
    """The one probability a network gives every point of the plane (within `tol`), or None if it draws a boundary."""
    return float(b.prob.mean()) if float(np.ptp(b.prob)) <= tol else None


def final(trainer: Trainer, name: str, run: int) -> float:
    return float(trainer.history.metric(name, run)[-1])


def train_placed(placement: Sequence[tuple[Trainer, int]], steps: int, chunk: int,
                 progress: Callable[[float], None] | None = None, until_all_diverged: bool = False) -> None:
    """Train every trainer of a `run_side_by_side` placement `steps` steps, `chunk` at a time, telling `progress`
    the share done after each chunk; with `until_all_diverged`, stop early once every run has diverged."""
    trainers = list({id(t): t for t, _ in placement}.values())
    done = 0
    while done < steps and not (until_all_diverged and all(t.all_diverged for t in trainers)):
        step = min(chunk, steps - done)
        for trainer in trainers:
            trainer.step(step)
        done += step
        if progress is not None:
            progress(done / steps)
