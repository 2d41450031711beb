"""Lesson: do random neurons still copy each other? A random start breaks the tie, but after training some neurons
can end up computing what another one computes (up to a factor), and a relu can end up off on every point. This
counts both, against the width, for a small and a He start, with and without dropout, over several draws.
Pure functions of configs (no streamlit); the result holds plain arrays, so a page can cache it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from symbreak.data.dataset import Dataset
from symbreak.engine.probe import plane_grid
from symbreak.engine.trainer import Trainer, load_dataset, run_side_by_side
from symbreak.lessons.boundary import train_placed
from symbreak.settings.config import Config

DUP_DATASET = "circles"
DUP_SAMPLES = 200
DUP_STEPS = 600
DUP_LR = 0.03
DUP_DROPOUT = 0.2
DUP_SEEDS = (0, 1, 2, 3, 4)
DUP_WIDTHS = (1, 2, 4, 8, 16, 32, 64)
DUP_WIDTH = 32            # the width the question asks about
DUP_CHUNK = 50            # steps between progress reports
DUP_ROWS = 8              # history rows per run: only the end is measured
THRESHOLD = 0.99          # |cosine| above which two neurons count as near-duplicates
THRESHOLDS = (0.9, 0.95, 0.99, 0.995, 0.999)
SMALL_SIGMA = 0.01
SMALL, SMALL_DROPOUT, HE, HE_DROPOUT = "small start", "small start + dropout", "He start", "He start + dropout"
# arm -> (weight init, dropout rate)
ARMS = {SMALL: (f"normal:{SMALL_SIGMA}", 0.0), SMALL_DROPOUT: (f"normal:{SMALL_SIGMA}", DUP_DROPOUT),
        HE: ("he_normal", 0.0), HE_DROPOUT: ("he_normal", DUP_DROPOUT)}
MEASURES = ("effective width", "near-duplicates", "dead")


def duplicates_config(width: int, arm: str, seed: int = 0, steps: int = DUP_STEPS) -> Config:
    """One relu layer of `width` neurons on circles, trained with Adam (lr 0.03) from the arm's start."""
    init, dropout = ARMS[arm]
    return Config.from_flat({"dataset": DUP_DATASET, "n_samples": str(DUP_SAMPLES), "hidden": str(width),
                             "activation": "relu", "init": init, "bias_init": "zeros", "optimizer": "adam",
                             "lr": repr(DUP_LR), "dropout": repr(dropout), "steps": str(steps), "seed": str(seed)})


def duplicates_dataset() -> Dataset:
    """The circles every run trains on (seed 0's draw): the seeds change the start and the dropout masks only."""
    return load_dataset(duplicates_config(1, HE))


@dataclass(frozen=True)
class Layer:
    """One trained hidden layer, measured on the training points."""

    dead: np.ndarray        # [W] bool: never active on a training point
    similarity: np.ndarray  # [W, W] |cosine| of two neurons' activations over the training points (0 if one is dead)
    weights: np.ndarray     # [W, 2] incoming weights at the end
    biases: np.ndarray      # [W]
    test_accuracy: float


def measure(activations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dead [W], |cosine| similarity [W, W]) of a layer's activations [N, W] over N points."""
    a = np.asarray(activations, dtype=np.float64)
    norms = np.linalg.norm(a, axis=0)
    dead = ~(a > 0).any(axis=0)
    unit = np.divide(a, norms, out=np.zeros_like(a), where=norms > 0)
    return dead, np.abs(unit.T @ unit)


def partners(layer: Layer, threshold: float = THRESHOLD) -> np.ndarray:
    """[W, W] bool: which pairs of distinct live neurons are near-duplicates (|cosine| above `threshold`)."""
    near = layer.similarity > threshold
    np.fill_diagonal(near, False)
    return near & ~layer.dead[:, None] & ~layer.dead[None, :]


def clusters(layer: Layer, threshold: float = THRESHOLD) -> np.ndarray:
    """Cluster number per neuron [W] (-1 if dead). The live neuron with the most near-duplicates left leads a
    cluster of itself and them (ties: the lowest-numbered), and so on until none is left: every member is within
    the threshold of its cluster's first neuron, and cluster 0 is the largest."""
    near = partners(layer, threshold)
    labels = np.full(len(layer.dead), -1)
    left = ~layer.dead
    while left.any():
        degree = np.where(left, (near & left).sum(axis=1), -1)
        leader = int(degree.argmax())
        members = left & near[leader]
        members[leader] = True
        labels[members] = labels.max() + 1
        left &= ~members
    return labels


def counts(layer: Layer, threshold: float = THRESHOLD) -> dict[str, int]:
    """Distinct features left (clusters of live neurons), neurons with a near-duplicate, and dead neurons."""
    return {"effective width": int(clusters(layer, threshold).max() + 1),
            "near-duplicates": int(partners(layer, threshold).any(axis=1).sum()), "dead": int(layer.dead.sum())}


@dataclass(frozen=True)
class Duplicates:
    """Every arm × width × draw, trained and measured."""

    dataset: Dataset
    steps: int
    widths: tuple[int, ...]
    seeds: tuple[int, ...]
    layers: dict[tuple[str, int, int], Layer]  # (arm, width, seed) -> its layer
    seconds: float

    @property
    def networks(self) -> int:
        return len(self.layers)


def _groups(configs: list[Config], dataset: Dataset) -> list[tuple[Trainer, int]]:
    """Each config's trainer and run: one batch per width and dropout rate. Runs with dropout and runs without
    would batch together too, but then every run pays for drawing masks (about twice the time)."""
    placement: list[tuple[Trainer, int]] = [None] * len(configs)  # type: ignore[list-item]
    for rate in sorted({c.train.dropout for c in configs}):
        members = [i for i, c in enumerate(configs) if c.train.dropout == rate]
        for i, place in zip(members, run_side_by_side([configs[i] for i in members], dataset, max_rows=DUP_ROWS)):
            placement[i] = place
    return placement


def duplicates(steps: int = DUP_STEPS, widths: Iterable[int] = DUP_WIDTHS, seeds: Iterable[int] = DUP_SEEDS,
               progress: Callable[[float], None] | None = None) -> Duplicates:
    """Train every arm at every width over the seeds, batched, reporting the share done to `progress` every
    DUP_CHUNK steps; then measure each layer on the training points through the network's own forward pass."""
    start = time.perf_counter()
    widths, seeds = tuple(widths), tuple(seeds)
    keys = [(arm, w, s) for w in widths for arm in ARMS for s in seeds]
    dataset = duplicates_dataset()
    placement = _groups([duplicates_config(w, arm, s, steps) for arm, w, s in keys], dataset)
    train_placed(placement, steps, DUP_CHUNK, progress)
    layers = {}
    for key, (trainer, run) in zip(keys, placement):
        hidden = trainer.layer_outputs(dataset.x_train, run=run)[0]
        dead, similarity = measure(hidden)
        (weights, biases), _ = trainer.parameters(run)
        layers[key] = Layer(dead, similarity, weights, biases,
                            float(trainer.history.metric("test_accuracy", run)[-1]))
    return Duplicates(dataset, steps, widths, seeds, layers, time.perf_counter() - start)


def summary(result: Duplicates, threshold: float = THRESHOLD) -> pd.DataFrame:
    """One row per arm and width: each measure's mean, lowest and highest over the draws, and the test accuracy."""
    rows = []
    for arm in ARMS:
        for w in result.widths:
            layers = [result.layers[arm, w, s] for s in result.seeds]
            found = [counts(layer, threshold) for layer in layers]
            row: dict[str, object] = {"arm": arm, "width": w}
            for name in MEASURES:
                values = np.array([f[name] for f in found])
                row |= {name: values.mean(), f"{name} low": values.min(), f"{name} high": values.max()}
            row["test accuracy"] = float(np.mean([layer.test_accuracy for layer in layers]))
            rows.append(row)
    return pd.DataFrame(rows)


def plane(result: Duplicates, arm: str, width: int, seed: int,
          resolution: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xs, ys, pre-activations [resolution², W]) of one layer over the plane of its data, rows along ys: each
    neuron is on where its pre-activation is positive."""
    layer = result.layers[arm, width, seed]
    data = result.dataset
    xs, ys, points = plane_grid(np.concatenate([data.x_train, data.x_test]), resolution)
    return xs, ys, points @ layer.weights.T + layer.biases


def _at(table: pd.DataFrame, arm: str, width: int) -> pd.Series:
    return table[(table["arm"] == arm) & (table["width"] == width)].iloc[0]


def _span(row: pd.Series, name: str) -> str:
    low, high = int(row[f"{name} low"]), int(row[f"{name} high"])
    return f"{row[name]:.1f}" + (f" ({low} to {high})" if low != high else "")


def dropout_effect(with_: pd.Series, without: pd.Series) -> str:
    """'more', 'fewer' or 'about as many' near-duplicates with dropout than without, and how sure: from the draws'
    ranges (apart: in every draw) and means (a neuron or more apart: on average)."""
    name = "near-duplicates"
    if with_[f"{name} low"] > without[f"{name} high"]:
        return "more in every draw"
    if with_[f"{name} high"] < without[f"{name} low"]:
        return "fewer in every draw"
    difference = with_[name] - without[name]
    if abs(difference) >= 1:
        return f"{'more' if difference > 0 else 'fewer'} on average, though the draws overlap"
    return "about as many"


def duplicates_sentences(result: Duplicates, table: pd.DataFrame, width: int, threshold: float) -> list[str]:
    """What the runs found at `width` and across widths, with the numbers measured (means over the draws)."""
    he, small, he_d, small_d = (_at(table, arm, width) for arm in (HE, SMALL, HE_DROPOUT, SMALL_DROPOUT))
    widest = max(result.widths)
    he_wide, small_wide = _at(table, HE, widest), _at(table, SMALL, widest)
    said = (f"**Dropout {DUP_DROPOUT}**, {width} neurons: from the He start {_span(he_d, 'near-duplicates')} "
            f"near-duplicates with it against {_span(he, 'near-duplicates')} without, {dropout_effect(he_d, he)}; "
            f"from the small start {_span(small_d, 'near-duplicates')} against {_span(small, 'near-duplicates')}, "
            f"{dropout_effect(small_d, small)}.")
    closer = (" Neurons that start close together near zero are pulled toward the same few directions."
              if small["effective width"] < he["effective width"] - 1 else "")
    most_dead = int(table["dead high"].max())
    return [
        f"**He start, {width} neurons:** {_span(he, 'effective width')} distinct features on average, "
        f"{_span(he, 'near-duplicates')} neurons with a near-duplicate, {_span(he, 'dead')} dead.",
        f"**Small start (N(0, {SMALL_SIGMA}²)), {width} neurons:** {_span(small, 'effective width')} distinct "
        f"features, {_span(small, 'near-duplicates')} neurons with a near-duplicate.{closer}",
        said,
        f"**At {widest} neurons** the He layer keeps {he_wide['effective width']:.1f} distinct features "
        f"({he_wide['effective width'] / widest:.0%} of its neurons) and the small start "
        f"{small_wide['effective width']:.1f} ({small_wide['effective width'] / widest:.0%}).",
        f"**Dead neurons:** at most {most_dead} in any one layer of any width.",
        f"All counts use |cosine| > {threshold} over the {len(result.dataset.x_train)} training points, "
        f"after {result.steps:,} steps, over {len(result.seeds)} draws per setting.",
    ]
