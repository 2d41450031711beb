"""Lesson 4, how fast they split: a perturbation of size ε grows exponentially, so the split comes ~ln(1/ε) later."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from symbreak.engine.metrics import gap
from symbreak.engine.trainer import Trainer
from symbreak.settings.config import Config

SPLIT_EPSILONS = tuple(float(e) for e in np.logspace(-8, -1, 8))
SPLIT_STEPS = 400
SPLIT_LR = 10.0           # large enough that even ε = 1e-8 splits within SPLIT_STEPS
SPLIT_THRESHOLD = 1.0     # split = two neurons at least this far apart (above every ε's starting gap)
SPLIT_WINDOW = 1e-2       # growth rates are fitted while the gap is below this
MIN_FIT_POINTS = 3


def split_config(steps: int = SPLIT_STEPS, lr: float = SPLIT_LR) -> Config:
    """Identical sigmoid neurons (every weight 0.5) on coffee, in float64 so ε = 1e-8 is resolved."""
    return Config.from_flat({"dataset": "coffee", "hidden": "8", "activation": "sigmoid", "init": "constant:0.5",
                             "lr": repr(float(lr)), "dtype": "float64", "steps": str(steps)})


def growth_rate(steps: np.ndarray, gaps: np.ndarray, upper: float = SPLIT_WINDOW) -> float:
    """Least-squares slope of ln(gap) against step while 0 < gap < upper (NaN if too few points)."""
    steps = np.asarray(steps, dtype=np.float64)
    gaps = np.asarray(gaps, dtype=np.float64)
    small = np.flatnonzero(~((gaps > 0) & (gaps < upper)))
    end = small[0] if len(small) else len(gaps)  # the window ends where the gap first leaves it
    if end < MIN_FIT_POINTS:
        return math.nan
    return float(np.polyfit(steps[:end], np.log(gaps[:end]), 1)[0])


def time_to_split(steps: np.ndarray, gaps: np.ndarray, threshold: float = SPLIT_THRESHOLD) -> float:
    """The first recorded step at which the gap reaches `threshold` (NaN if it never does)."""
    hit = np.flatnonzero(np.asarray(gaps) >= threshold)
    return float(steps[hit[0]]) if len(hit) else math.nan


def line_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(slope, intercept, correlation) of the least-squares line through the finite points."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return math.nan, math.nan, math.nan
    slope, intercept = np.polyfit(x[ok], y[ok], 1)
    corr = float(np.corrcoef(x[ok], y[ok])[0, 1]) if ok.sum() > 2 else math.nan
    return float(slope), float(intercept), corr


@dataclass
class SplitSpeed:
    """Gap over steps for each ε, the fitted growth rates and the times to split."""

    config: Config
    epsilons: np.ndarray     # [E]
    steps: np.ndarray        # [T]
    gaps: np.ndarray         # [E, T]
    rates: np.ndarray        # [E] fitted growth rate per step (NaN where no small-gap window)
    split_steps: np.ndarray  # [E] first step with gap ≥ threshold (NaN if never)
    threshold: float
    window: float
    slope: float             # time to split against ln(1/ε): steps per unit of ln(1/ε)
    intercept: float
    correlation: float

    @property
    def log_inv_eps(self) -> np.ndarray:
        return np.log(1.0 / self.epsilons)

    @property
    def shrinks_first(self) -> np.ndarray:
        """[E] whether the gap dips below its starting value before it grows."""
        return self.gaps.min(axis=1) < self.gaps[:, 0]

    def table(self) -> pd.DataFrame:
        """One row per ε: starting and final gap, growth rate, time to split."""
        return pd.DataFrame({
            "ε": self.epsilons,
            "ln(1/ε)": self.log_inv_eps,
            "gap at step 0": self.gaps[:, 0],
            "growth rate per step": self.rates,
            "step of split": self.split_steps,
            "gap at the end": self.gaps[:, -1],
        })


def split_speed(steps: int = SPLIT_STEPS, epsilons: Sequence[float] = SPLIT_EPSILONS, lr: float = SPLIT_LR,
                threshold: float = SPLIT_THRESHOLD, window: float = SPLIT_WINDOW) -> SplitSpeed:
    """Train identical neurons plus ε-sized perturbations, one batched run over every ε.

    Every run has the same seed, so each starts from the same random direction scaled by its ε:
    only the size of the tie-break differs.
    """
    base = split_config(steps, lr)
    eps = np.asarray(epsilons, dtype=np.float64)
    trainer = Trainer([base.with_flat(perturb=float(e)) for e in eps])
    trainer.step(steps)
    recorded = trainer.history.steps
    gaps = np.stack([np.atleast_1d(gap(trainer.history.neuron_vectors(0, run))) for run in range(len(eps))])
    rates = np.array([growth_rate(recorded, s, window) for s in gaps])
    split_steps = np.array([time_to_split(recorded, s, threshold) for s in gaps])
    slope, intercept, corr = line_fit(np.log(1.0 / eps), split_steps)
    return SplitSpeed(base, eps, recorded, gaps, rates, split_steps, threshold, window, slope, intercept, corr)
