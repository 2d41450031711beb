"""Lesson: the course's initialization experiment. A 2-10-5-1 relu net on two circles from zeros, N(0, 1)×10 and He,
trained by plain gradient descent. Pure functions of configs (no streamlit)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from symbreak.data.dataset import Dataset
from symbreak.engine.trainer import Trainer
from symbreak.lessons.boundary import Boundary, boundary, final
from symbreak.settings.config import Config, DataConfig

COURSE_HIDDEN = (10, 5)
COURSE_TRAIN, COURSE_TEST = 300, 100
COURSE_NOISE = 0.05
COURSE_FACTOR = 0.8       # inner circle's radius, the outer one's being 1
COURSE_LR = 0.01
COURSE_STEPS = 15_000
COURSE_ROWS = 128         # history rows per run: the loss curve needs no more
COURSE_CHUNK = 500        # steps between progress reports
COURSE_SEED = 1
COURSE_STARTS = {"zeros": "zeros", "N(0, 1)×10": "normal:10", "He": "he_normal"}


def course_circles(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n points on two concentric circles (radius 1 and 0.8, half each) with Gaussian noise of sd 0.05."""
    outer = n // 2
    radius = np.concatenate([np.ones(outer), np.full(n - outer, COURSE_FACTOR)])
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]) + rng.normal(0, COURSE_NOISE, (n, 2))
    return x, np.concatenate([np.zeros(outer), np.ones(n - outer)])


def course_dataset(seed: int = COURSE_SEED) -> Dataset:
    """The exercise's data: 300 training and 100 test points on two noisy concentric circles."""
    rng = np.random.default_rng(seed)
    x_train, y_train = course_circles(COURSE_TRAIN, rng)
    x_test, y_test = course_circles(COURSE_TEST, rng)
    return Dataset("course circles", ("x1", "x2"), "class", "binary", x_train, y_train, x_test, y_test,
                   ("outer", "inner"), "Two noisy concentric circles: outer (radius 1) and inner (radius 0.8).")


def course_configs(steps: int = COURSE_STEPS) -> dict[str, Config]:
    """2 → 10 → 5 → 1 relu, sigmoid output, full-batch gradient descent at lr 0.01, zero biases.

    The data fields name the Playground's own circles (a link cannot carry the exercise's points).
    """
    data = DataConfig(dataset="circles", n_samples=COURSE_TRAIN + COURSE_TEST, noise=COURSE_NOISE,
                      test_fraction=COURSE_TEST / (COURSE_TRAIN + COURSE_TEST))
    base = Config.from_flat({"hidden": ",".join(map(str, COURSE_HIDDEN)), "activation": "relu", "optimizer": "sgd",
                             "lr": repr(COURSE_LR), "bias_init": "zeros", "steps": str(steps)})
    return {name: Config(data=data, model=base.model, init=base.with_flat(init=init).init, train=base.train)
            for name, init in COURSE_STARTS.items()}


@dataclass(frozen=True)
class Course:
    """The three runs of the course's experiment (in `labels` order)."""

    labels: tuple[str, ...]
    configs: dict[str, Config]
    steps: np.ndarray         # [T]
    loss: np.ndarray          # [R, T] train loss
    table: pd.DataFrame       # one row per start: final loss, train and test accuracy
    boundaries: dict[str, Boundary]
    seconds: float


def course_experiment(steps: int = COURSE_STEPS, progress: Callable[[float], None] | None = None) -> Course:
    """Train the three starts as one batched run, reporting the share done to `progress` every few hundred steps."""
    start = time.perf_counter()
    configs = course_configs(steps)
    trainer = Trainer(list(configs.values()), dataset=course_dataset(), max_rows=COURSE_ROWS)
    while trainer.step_count < steps and not trainer.all_diverged:
        trainer.step(min(COURSE_CHUNK, steps - trainer.step_count))
        if progress is not None:
            progress(trainer.step_count / steps)
    history = trainer.history
    table = pd.DataFrame([{
        "start": name,
        "final loss": final(trainer, "train_loss", run),
        "train accuracy": final(trainer, "train_accuracy", run),
        "test accuracy": final(trainer, "test_accuracy", run),
    } for run, name in enumerate(configs)])
    return Course(tuple(configs), configs, history.steps,
                  np.stack([history.metric("train_loss", r) for r in range(trainer.k)]), table,
                  {name: boundary(trainer, run) for run, name in enumerate(configs)},
                  time.perf_counter() - start)


def course_sentences(result: Course) -> list[str]:
    """One sentence per start and one for the winner, from the measured table."""
    t = result.table.set_index("start")
    out = []
    for name, row in t.iterrows():
        out.append(f"**{name}:** loss {row['final loss']:.3f} after {int(result.steps[-1]):,} steps; "
                   f"{row['train accuracy']:.0%} of the training and {row['test accuracy']:.0%} of the test points "
                   "right.")
    best = str(t["test accuracy"].idxmax())
    out.append(f"**{best}** does best on the test set.")
    return out
