"""Lesson: why a tie wastes the network. W tied neurons compute one feature, so they do no better than one neuron;
dropout or a random start gives W features. Pure functions of configs (no streamlit); results hold plain arrays and
tables, so a page can cache them and a figure can draw them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from symbreak.engine.metrics import distinct
from symbreak.engine.trainer import Trainer, load_dataset
from symbreak.lessons.boundary import Boundary, boundary, final
from symbreak.settings.config import MAX_WIDTH, Config

WASTED_DATASETS = ("circles", "spiral")
WASTED_WIDTH = 32
WASTED_STEPS = 400
WASTED_LR = 0.03
WASTED_DROPOUT = 0.2
WASTED_ROWS = 32  # history rows per run: only the end is shown
SWEEP_WIDTHS = (1, 2, 4, 8, 16, 32, 64)
TIED_INIT = "constant:0.5"
RANDOM_INIT = "xavier_uniform"
ONE, TIED, TIED_DROPOUT, RANDOM = "1 neuron", "tied", "tied + dropout", "random"


def wasted_config(dataset: str, width: int, init: str, dropout: float = 0.0, steps: int = WASTED_STEPS) -> Config:
    """One tanh layer of `width` neurons on `dataset`, trained with Adam (lr 0.03) from `init`."""
    return Config.from_flat({"dataset": dataset, "hidden": str(width), "activation": "tanh", "init": init,
                             "bias_init": "zeros", "optimizer": "adam", "lr": repr(WASTED_LR),
                             "dropout": repr(float(dropout)), "steps": str(steps)})


def wasted_arms(dataset: str, width: int = WASTED_WIDTH, steps: int = WASTED_STEPS) -> dict[str, Config]:
    """The four networks side by side: one neuron; W tied; W tied with dropout; W random."""
    if not 2 <= width <= MAX_WIDTH:
        raise ValueError(f"width: must be between 2 and {MAX_WIDTH} (got {width})")
    return {
        ONE: wasted_config(dataset, 1, RANDOM_INIT, steps=steps),
        TIED: wasted_config(dataset, width, TIED_INIT, steps=steps),
        TIED_DROPOUT: wasted_config(dataset, width, TIED_INIT, WASTED_DROPOUT, steps),
        RANDOM: wasted_config(dataset, width, RANDOM_INIT, steps=steps),
    }


@dataclass(frozen=True)
class Wasted:
    """The side-by-side run and the width sweep of lesson 6."""

    dataset: str
    width: int
    steps: int
    configs: dict[str, Config]
    table: pd.DataFrame            # one row per arm: neurons, effective width, accuracies, loss
    boundaries: dict[str, Boundary]
    sweep: pd.DataFrame            # one row per width: tied and random accuracies and effective widths
    networks: int                  # runs trained, over every width
    seconds: float


def _sweep_row(trainer: Trainer, width: int) -> dict[str, float]:
    """Final accuracies and effective widths of a width's tied (run 0) and random (run 1) layers."""
    row: dict[str, float] = {"width": width}
    for run, name in ((0, TIED), (2 if trainer.k == 3 else 1, RANDOM)):
        row[f"{name} train"] = final(trainer, "train_accuracy", run)
        row[f"{name} test"] = final(trainer, "test_accuracy", run)
        row[f"{name} distinct"] = int(distinct(trainer.history.neuron_vectors(0, run)[-1], trainer.config.tol))
    return row


def wasted(dataset: str = "circles", width: int = WASTED_WIDTH, steps: int = WASTED_STEPS,
           widths: Sequence[int] = SWEEP_WIDTHS) -> Wasted:
    """Train the four arms and the width sweep, one batched trainer per width, and measure each.

    The arms are runs of the sweep: "1 neuron" is the random layer of width 1, and the trainer of
    width W also holds the tied layer with dropout.
    """
    start = time.perf_counter()
    configs = wasted_arms(dataset, width, steps)
    source = load_dataset(configs[ONE])
    trainers: dict[int, Trainer] = {}
    for w in sorted({1, width, *widths}):
        runs = [wasted_config(dataset, w, TIED_INIT, steps=steps)]
        runs += [configs[TIED_DROPOUT]] if w == width else []
        runs += [wasted_config(dataset, w, RANDOM_INIT, steps=steps)]
        trainers[w] = Trainer(runs, dataset=source, max_rows=WASTED_ROWS)
        trainers[w].step(steps)
    placement = {ONE: (trainers[1], 1), TIED: (trainers[width], 0), TIED_DROPOUT: (trainers[width], 1),
                 RANDOM: (trainers[width], 2)}
    rows, boundaries = [], {}
    for name, (trainer, run) in placement.items():
        rows.append({
            "network": name,
            "neurons": trainer.config.model.hidden[0],
            "effective width": int(distinct(trainer.history.neuron_vectors(0, run)[-1], trainer.config.tol)),
            "train accuracy": final(trainer, "train_accuracy", run),
            "test accuracy": final(trainer, "test_accuracy", run),
            "final loss": final(trainer, "train_loss", run),
        })
        boundaries[name] = boundary(trainer, run)
    sweep = pd.DataFrame([_sweep_row(trainers[w], w) for w in sorted({*widths, width})])
    return Wasted(dataset, width, steps, configs, pd.DataFrame(rows), boundaries, sweep,
                  sum(t.k for t in trainers.values()), time.perf_counter() - start)


def closest(value: float, candidates: dict[str, float]) -> str:
    """The candidate whose value is nearest to `value` (the first one on a tie)."""
    return min(candidates, key=lambda name: abs(candidates[name] - value))


def wasted_sentences(result: Wasted) -> list[str]:
    """One sentence per result, with the numbers this run measured."""
    t = result.table.set_index("network")
    one, tied, drop, rand = (t.loc[name] for name in (ONE, TIED, TIED_DROPOUT, RANDOM))
    w, n_tied = result.width, int(tied["effective width"])
    like = closest(tied["test accuracy"],
                   {"one neuron": one["test accuracy"], "the random layer": rand["test accuracy"]})
    sweep = result.sweep
    most = int(sweep[f"{TIED} distinct"].max())
    return [
        f"**One neuron** draws one straight boundary: {one['test accuracy']:.0%} of the test points right.",
        f"**{w} tied neurons** end as {n_tied} distinct neuron{'s' if n_tied != 1 else ''}: "
        f"{tied['test accuracy']:.0%} right, closer to {like}. "
        f"{w} copies of one feature are still one feature.",
        f"**Dropout** gives each copy its own random mask: {int(drop['effective width'])} distinct neurons, "
        f"{drop['test accuracy']:.0%} right after {result.steps:,} steps.",
        f"**A random start** gives {int(rand['effective width'])} distinct neurons from the first step: "
        f"{rand['test accuracy']:.0%} right.",
        f"**Across widths {sweep['width'].iloc[0]} to {sweep['width'].iloc[-1]}** the tied layer's test accuracy stays "
        f"between {sweep[f'{TIED} test'].min():.0%} and {sweep[f'{TIED} test'].max():.0%}, and never has more than "
        f"{most} distinct neuron{'s' if most != 1 else ''}; the random layer goes from "
        f"{sweep[f'{RANDOM} test'].iloc[0]:.0%} to {sweep[f'{RANDOM} test'].iloc[-1]:.0%}.",
    ]
