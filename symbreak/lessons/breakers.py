"""Lesson 2, what breaks symmetry: one batched experiment over fourteen interventions from a constant start."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from symbreak.engine.metrics import distinct, gap
from symbreak.engine.trainer import run_side_by_side
from symbreak.settings.config import Config
from symbreak.settings.explicit import explicit_json

BREAKER_STEPS = 400
BREAKER_ROWS = 64  # history rows kept per run: enough for a sparkline, and fewer evaluations
BREAKER_WIDTH = 8
TIED = "stays tied"
SPLIT = "splits"


@dataclass(frozen=True)
class Intervention:
    """One row of the experiment: what changes from the constant start, and why it matters."""

    label: str
    changes: dict[str, str]
    why: str


def _outgoing_only() -> str:
    """Equal hidden rows (0.5, 0.5; bias 0) with distinct outgoing weights 0.15 … 0.85."""
    outgoing = [round(0.15 + 0.1 * j, 2) for j in range(BREAKER_WIDTH)]
    return explicit_json([([[0.5, 0.5]] * BREAKER_WIDTH, [0.0] * BREAKER_WIDTH), ([outgoing], [0.0])])


INTERVENTIONS: tuple[Intervention, ...] = (
    Intervention("nothing (constant 0.5)", {},
                 "Same start, same inputs, same error: every neuron gets the same update."),
    Intervention("random init (Xavier)", {"init": "xavier_uniform"},
                 "Each neuron starts somewhere else, so each sees a different error."),
    Intervention("dropout 0.1", {"dropout": "0.1"},
                 "A random mask silences different neurons on different samples."),
    Intervention("dropout 0.5", {"dropout": "0.5"},
                 "More masking, same effect: the neurons see different data."),
    Intervention("perturbation ε = 1e-6", {"perturb": "1e-6"},
                 "A tiny nudge is still a difference, and training can amplify it."),
    Intervention("different biases only", {"bias_init": "normal:0.1"},
                 "Different biases give different z, so different slopes σ'(z)."),
    Intervention("different outgoing weights only", {"init_weights": _outgoing_only()},
                 "Each neuron's error is scaled by its own outgoing weight."),
    Intervention("mini-batches of 32, shuffled", {"batch_size": "32"},
                 "Every neuron sees the same mini-batch, so the updates still match."),
    Intervention("momentum 0.9", {"optimizer": "momentum", "lr": "0.1"},
                 "Momentum adds up past gradients, and those are equal: still equal."),
    Intervention("Adam", {"optimizer": "adam", "lr": "0.01"},
                 "Adam rescales each weight by its own history, and those histories are equal."),
    Intervention("weight decay 0.01", {"weight_decay": "0.01"},
                 "Shrinking equal weights by the same factor keeps them equal."),
    Intervention("zero init, tanh", {"init": "zeros", "activation": "tanh"},
                 "tanh(0) = 0 and the outgoing weights are 0: no error flows back at all."),
    Intervention("zero init, relu", {"init": "zeros", "activation": "relu"},
                 "relu(0) = 0 with slope 0 there: no gradient, the neurons never move."),
    Intervention("zero init, sigmoid", {"init": "zeros"},
                 "σ(0) = 0.5 for every neuron: they move, but in lockstep."),
)


def breaker_base(steps: int = BREAKER_STEPS) -> Config:
    """The constant start of the experiment: coffee, 8 sigmoid neurons, every weight 0.5, biases 0."""
    return Config.from_flat({"dataset": "coffee", "hidden": str(BREAKER_WIDTH), "activation": "sigmoid",
                             "init": "constant:0.5", "bias_init": "zeros", "steps": str(steps)})


def breaker_configs(steps: int = BREAKER_STEPS) -> list[Config]:
    """One config per intervention, in `INTERVENTIONS` order."""
    base = breaker_base(steps)
    return [base.with_flat(**row.changes) for row in INTERVENTIONS]


@dataclass
class BreakerMatrix:
    """The measured outcome of every intervention after `steps` updates."""

    steps: int
    configs: list[Config]
    table: pd.DataFrame                 # label, outcome, gap, distinct, final loss, gap over steps, why
    series: list[np.ndarray] = field(default_factory=list)       # gap over recorded steps, per row
    series_steps: list[np.ndarray] = field(default_factory=list)  # the recorded steps, per row
    seconds: float = 0.0                # wall time of the whole computation
    batches: int = 1                    # batched computations the runs were grouped into


def breaker_matrix(steps: int = BREAKER_STEPS, max_rows: int = BREAKER_ROWS) -> BreakerMatrix:
    """Train every intervention for `steps` updates as one batched side-by-side run, and measure."""
    started = time.perf_counter()
    configs = breaker_configs(steps)
    placement = run_side_by_side(configs, max_rows=max_rows)
    trainers = {id(t): t for t, _ in placement}.values()
    for trainer in trainers:
        trainer.step(steps)
    rows, series, series_steps = [], [], []
    for row, config, (trainer, run) in zip(INTERVENTIONS, configs, placement):
        vectors = trainer.history.neuron_vectors(0, run)
        over_steps = np.atleast_1d(gap(vectors))
        final = float(over_steps[-1])
        series.append(over_steps)
        series_steps.append(trainer.history.steps)
        rows.append({
            "intervention": row.label,
            "outcome": TIED if not over_steps.any() else SPLIT,
            "gap": final,
            "distinct neurons": int(distinct(vectors[-1], config.tol)),
            "final loss": float(trainer.final_loss[run]),
            "gap over steps": over_steps.tolist(),
            "why": row.why,
        })
    return BreakerMatrix(steps, configs, pd.DataFrame(rows), series, series_steps, time.perf_counter() - started,
                         len(trainers))
