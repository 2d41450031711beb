"""Lesson: the course's initialization experiment. A 2-10-5-1 relu net on two circles from zeros, N(0, 1)×10 and He,
trained by plain gradient descent over several draws of each random start, beside the numbers the course printed
for its one draw. Pure functions of configs (no streamlit)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from symbreak.data.dataset import Dataset
from symbreak.engine.trainer import run_side_by_side
from symbreak.lessons.boundary import Boundary, boundary, final, train_placed
from symbreak.settings.config import Config, DataConfig

COURSE_HIDDEN = (10, 5)
COURSE_TRAIN, COURSE_TEST = 300, 100
COURSE_NOISE = 0.05
COURSE_FACTOR = 0.8       # inner circle's radius, the outer one's being 1
COURSE_LR = 0.01
COURSE_STEPS = 15_000
COURSE_ROWS = 128         # history rows per run: the loss curve needs no more
COURSE_CHUNK = 500        # steps between progress reports
COURSE_SEED = 1           # the data's
COURSE_STARTS = {"zeros": "zeros", "N(0, 1)×10": "normal:10", "He": "he_normal"}
COURSE_SEEDS = (0, 1, 2, 3, 4)  # the draws of each random start
# Train and test accuracy the course's notebook printed for its one draw of each start (Improving Deep Neural
# Networks, week 1, "Initialization").
COURSE_PUBLISHED = {"zeros": (0.50, 0.50), "N(0, 1)×10": (0.83, 0.86), "He": (0.99, 0.96)}
DRAWLESS = ("zeros", "constant")  # schemes that give every seed the same start: one draw is all there is


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

    Plain BLAS matrix products, as the course's NumPy code computes: a third less time than the exact dot
    products over eleven draws, and nothing here needs tied neurons to stay bitwise tied (the zero start's hidden
    weights get exactly zero gradient either way). The data fields name the Playground's own circles (a link
    cannot carry the exercise's points).
    """
    data = DataConfig(dataset="circles", n_samples=COURSE_TRAIN + COURSE_TEST, noise=COURSE_NOISE,
                      test_fraction=COURSE_TEST / (COURSE_TRAIN + COURSE_TEST))
    base = Config.from_flat({"hidden": ",".join(map(str, COURSE_HIDDEN)), "activation": "relu", "optimizer": "sgd",
                             "lr": repr(COURSE_LR), "bias_init": "zeros", "steps": str(steps),
                             "arithmetic": "blas"})
    return {name: Config(data=data, model=base.model, init=base.with_flat(init=init).init, train=base.train)
            for name, init in COURSE_STARTS.items()}


def course_draws(steps: int = COURSE_STEPS, seeds: tuple[int, ...] = COURSE_SEEDS) -> list[tuple[str, int, Config]]:
    """(start, seed, config) for every draw: each random start once per seed, a start with nothing random once."""
    out = []
    for name, config in course_configs(steps).items():
        scheme = config.init.weight.split(":")[0]
        out += [(name, seed, config.with_flat(seed=str(seed))) for seed in (seeds[:1] if scheme in DRAWLESS else seeds)]
    return out


@dataclass(frozen=True)
class Course:
    """The draws of the course's experiment (`runs` rows, and the rows of `loss` and `boundaries`, in one order)."""

    labels: tuple[str, ...]   # the starts
    configs: dict[str, Config]
    runs: pd.DataFrame        # one row per draw: start, seed, final loss, train and test accuracy
    table: pd.DataFrame       # one row per start: draws; mean, lowest and highest accuracies; the course's numbers
    steps: np.ndarray         # [T]
    loss: np.ndarray          # [R, T] train loss
    boundaries: tuple[Boundary, ...]
    seconds: float

    def draw(self, start: str, draw: int) -> tuple[pd.Series, Boundary]:
        """The `runs` row and the boundary of a start's `draw`-th draw (counting from 1; its last if it has fewer)."""
        rows = np.flatnonzero(self.runs["start"] == start)
        row = int(rows[min(draw, len(rows)) - 1])
        return self.runs.iloc[row], self.boundaries[row]


def _by_start(runs: pd.DataFrame) -> pd.DataFrame:
    """Per start: the draws, the mean, lowest and highest train and test accuracy, and the course's numbers."""
    rows = []
    for name, group in runs.groupby("start", sort=False):
        row: dict[str, object] = {"start": name, "draws": len(group)}
        for part in ("train", "test"):
            values = group[f"{part} accuracy"]
            row |= {f"{part} accuracy": values.mean(), f"{part} low": values.min(), f"{part} high": values.max()}
        row["course train"], row["course test"] = COURSE_PUBLISHED[name]
        rows.append(row)
    return pd.DataFrame(rows)


def course_experiment(steps: int = COURSE_STEPS, seeds: tuple[int, ...] = COURSE_SEEDS,
                      progress: Callable[[float], None] | None = None) -> Course:
    """Train every draw as one batched run, reporting the share done to `progress` every few hundred steps."""
    start = time.perf_counter()
    draws = course_draws(steps, seeds)
    placement = run_side_by_side([config for _, _, config in draws], dataset=course_dataset(), max_rows=COURSE_ROWS)
    train_placed(placement, steps, COURSE_CHUNK, progress, until_all_diverged=True)
    runs = pd.DataFrame([{
        "start": name, "seed": seed,
        "final loss": final(trainer, "train_loss", run),
        "train accuracy": final(trainer, "train_accuracy", run),
        "test accuracy": final(trainer, "test_accuracy", run),
    } for (name, seed, _), (trainer, run) in zip(draws, placement)])
    first_steps = placement[0][0].history.steps
    return Course(tuple(COURSE_STARTS), course_configs(steps), runs, _by_start(runs), first_steps,
                  np.stack([trainer.history.metric("train_loss", run) for trainer, run in placement]),
                  tuple(boundary(trainer, run) for trainer, run in placement), time.perf_counter() - start)


def _range(row: pd.Series, part: str) -> str:
    low, high = row[f"{part} low"], row[f"{part} high"]
    return f"{row[f'{part} accuracy']:.0%}" + (f" ({low:.0%} to {high:.0%})" if f"{low:.0%}" != f"{high:.0%}" else "")


def best_sentence(table: pd.DataFrame) -> str:
    """Which start does best on the test set, as measured: on average, and whether in every draw."""
    t = table.set_index("start")
    top = t["test accuracy"].max()
    leaders = [str(name) for name in t.index if f"{t.loc[name, 'test accuracy']:.0%}" == f"{top:.0%}"]
    if len(leaders) > 1:
        return f"**{' and '.join(leaders)}** tie on the test set: {top:.0%} on average."
    best, others = leaders[0], t.drop(index=leaders[0])
    rival = str(others["test high"].idxmax())
    if t.loc[best, "test low"] > others["test high"].max():
        return (f"**{best}** does best on the test set in every draw: its worst ({t.loc[best, 'test low']:.0%}) "
                f"beats the best draw of any other start ({rival}, {others.loc[rival, 'test high']:.0%}).")
    return (f"**{best}** does best on the test set on average ({top:.0%}), but not in every draw: its worst draw "
            f"({t.loc[best, 'test low']:.0%}) is not above {rival}'s best ({others.loc[rival, 'test high']:.0%}).")


def _against(row: pd.Series, part: str) -> str:
    """Where the course's accuracy sits against the draws (as the table rounds them, to a percent)."""
    value, low, high = row[f"course {part}"], round(row[f"{part} low"], 2), round(row[f"{part} high"], 2)
    if row["draws"] == 1:
        return "the same" if low == value else "not the same"
    return "above every draw" if value > high else "below every draw" if value < low else "within the draws"


def course_sentences(result: Course) -> list[str]:
    """One sentence per start (its draws beside the course's one), and one for the winner, from the measured table."""
    out = []
    for _, row in result.table.iterrows():
        draws = int(row["draws"])
        what = f"{draws} draws" if draws > 1 else "one draw (a zero start has nothing random to draw)"
        out.append(f"**{row['start']}**, {what}: {_range(row, 'train')} of the training and {_range(row, 'test')} "
                   f"of the test points right. The course printed {row['course train']:.0%} "
                   f"({_against(row, 'train')}) and {row['course test']:.0%} ({_against(row, 'test')}).")
    out.append(best_sentence(result.table))
    return out
