"""Lesson 3, no hidden layer: softmax regression from zero splits its class rows, whose columns sum to zero.

A zero-initialised hidden layer beside it stays tied: the contrast is the lesson.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symbreak.engine.metrics import distinct, gap
from symbreak.engine.trainer import Trainer, load_dataset
from symbreak.settings.config import Config

NO_HIDDEN_STEPS = 300
NO_HIDDEN_WIDTH = 4


def no_hidden_configs(steps: int = NO_HIDDEN_STEPS, activation: str = "sigmoid") -> tuple[Config, Config]:
    """Softmax regression on blobs3 from zero, and the same with a zero-initialised hidden layer (float64)."""
    softmax = Config.from_flat({"dataset": "blobs3", "hidden": "0", "init": "zeros", "bias_init": "zeros",
                                "dtype": "float64", "steps": str(steps)})
    hidden = softmax.with_flat(hidden=str(NO_HIDDEN_WIDTH), activation=activation)
    return softmax, hidden


@dataclass
class NoHidden:
    """Both runs of lesson 3, over recorded steps."""

    configs: tuple[Config, Config]
    steps: np.ndarray        # [T] recorded steps (both runs record the same steps)
    class_rows: np.ndarray   # [T, 3, 3] softmax: per class, weight from x1, from x2, bias
    column_sums: np.ndarray  # [T, 3] sum over the class rows of each column
    class_gap: np.ndarray    # [T] gap of the class rows
    hidden: np.ndarray       # [T, width, 3] hidden neurons: weight from x1, from x2, bias
    hidden_gap: np.ndarray   # [T]
    class_distinct: int
    hidden_distinct: int
    softmax_loss: float
    hidden_loss: float
    softmax_accuracy: float
    hidden_accuracy: float


def no_hidden(steps: int = NO_HIDDEN_STEPS, activation: str = "sigmoid") -> NoHidden:
    """Train both lesson-3 models for `steps` updates and collect what the page shows."""
    configs = no_hidden_configs(steps, activation)
    dataset = load_dataset(configs[0])
    softmax, hidden = (Trainer(c, dataset=dataset) for c in configs)
    softmax.step(steps)
    hidden.step(steps)
    rows = softmax.history.neuron_vectors(0)
    neurons = hidden.history.neuron_vectors(0)
    accuracy = [float(t.history.metric("train_accuracy")[-1]) for t in (softmax, hidden)]
    return NoHidden(
        configs=configs, steps=softmax.history.steps, class_rows=rows, column_sums=rows.sum(axis=1),
        class_gap=np.atleast_1d(gap(rows)), hidden=neurons, hidden_gap=np.atleast_1d(gap(neurons)),
        class_distinct=int(distinct(rows[-1], configs[0].tol)),
        hidden_distinct=int(distinct(neurons[-1], configs[1].tol)),
        softmax_loss=softmax.final_loss[0], hidden_loss=hidden.final_loss[0],
        softmax_accuracy=accuracy[0], hidden_accuracy=accuracy[1],
    )
