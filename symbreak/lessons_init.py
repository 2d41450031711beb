"""The computations behind three lessons about the starting weights; pure functions of configs (no streamlit).

6. Why a tie wastes the network: W tied neurons compute one feature, so they do no better than one neuron.
7. How big a random start: in a deep net, the size of the random start decides whether the signal
   fades, holds or blows up from layer to layer (Glorot & Bengio 2010; He et al. 2015).
8. The course's initialization experiment: a 2-10-5-1 relu net on two circles from zeros,
   N(0, 1)×10 and He, trained by plain gradient descent.

Every result holds plain arrays and tables, so a page can cache it and a figure can draw it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from . import probe
from .config import MAX_WIDTH, Config, DataConfig
from .data import Dataset
from .metrics import distinct, gap
from .trainer import Trainer, load_dataset

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


def _final(trainer: Trainer, name: str, run: int) -> float:
    return float(trainer.history.metric(name, run)[-1])


# ---------------------------------------------------------------------------------------------
# Lesson 6: why a tie wastes the network

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
        row[f"{name} train"] = _final(trainer, "train_accuracy", run)
        row[f"{name} test"] = _final(trainer, "test_accuracy", run)
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
            "train accuracy": _final(trainer, "train_accuracy", run),
            "test accuracy": _final(trainer, "test_accuracy", run),
            "final loss": _final(trainer, "train_loss", run),
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


# ---------------------------------------------------------------------------------------------
# Lesson 7: how big a random start

SCALE_DEPTH = 6
SCALE_WIDTH = 10
SCALE_STEPS = 300
SCALE_SAMPLES = 200
SCALE_LR = 0.1
SCALE_ROWS = 64
SCALE_ACTIVATIONS = ("tanh", "relu")
SIGMAS = tuple(float(s) for s in np.round(np.logspace(-3, 1, 13), 4))  # 0.001 … 10, three per decade
SCALE_SIGMA = float(SIGMAS[7])  # 0.2154: too small for a width of 10, so it sits on a plateau first
SIGMA_TOO_SMALL, SIGMA_TOO_LARGE = 0.75, 3.0  # σ against the Xavier std of a width-W layer, 1/√W
ZERO, NORMAL, XAVIER, HE = "zeros", "N(0, σ²)", "Xavier", "He"


def sigma_label(sigma: float, width: int = SCALE_WIDTH) -> str:
    """'too small', 'about right' or 'too large' for σ in a layer of `width` inputs (against 1/√width)."""
    ratio = sigma * math.sqrt(width)
    return "too small" if ratio < SIGMA_TOO_SMALL else "too large" if ratio > SIGMA_TOO_LARGE else "about right"


def scale_arms(activation: str = "tanh", sigma: float = SCALE_SIGMA, depth: int = SCALE_DEPTH,
               steps: int = SCALE_STEPS) -> dict[str, Config]:
    """Four starts of one deep net on circles: zeros, N(0, σ²), Xavier (normal) and He (normal)."""
    base = {"dataset": "circles", "n_samples": str(SCALE_SAMPLES), "hidden": ",".join([str(SCALE_WIDTH)] * depth),
            "activation": activation, "bias_init": "zeros", "optimizer": "momentum", "lr": repr(SCALE_LR),
            "steps": str(steps)}
    inits = {ZERO: "zeros", NORMAL: f"normal:{sigma!r}", XAVIER: "xavier_normal", HE: "he_normal"}
    return {name: Config.from_flat({**base, "init": init}) for name, init in inits.items()}


@dataclass(frozen=True)
class InitScale:
    """Per-layer signal sizes over training for the four starts of lesson 7 (runs in `labels` order)."""

    labels: tuple[str, ...]
    configs: dict[str, Config]
    steps: np.ndarray          # [T] recorded steps
    loss: np.ndarray           # [R, T] train loss
    test_accuracy: np.ndarray  # [R, T]
    gap: np.ndarray            # [R, T] gap of the first hidden layer's neurons
    act_std: np.ndarray        # [R, T, L] std of each hidden layer's activations over samples and neurons
    grad_std: np.ndarray       # [R, T, L+1] std of each layer's weight gradient (full batch), output last
    first: list[np.ndarray]    # per hidden layer: activations [R, N·W] at step 0
    last: list[np.ndarray]     # per hidden layer: activations [R, N·W] at the last step
    diverged_at: list[int | None]
    seconds: float


def _std(values: torch.Tensor) -> np.ndarray:
    """Std over the last two dimensions, in float64 (a large start may overflow float32's square)."""
    return values.double().flatten(-2).std(-1, correction=0).numpy()


def init_scale(activation: str = "tanh", sigma: float = SCALE_SIGMA, depth: int = SCALE_DEPTH,
               steps: int = SCALE_STEPS) -> InitScale:
    """Train the four starts in one batch and measure every recorded row's activations and gradients."""
    start = time.perf_counter()
    configs = scale_arms(activation, sigma, depth, steps)
    trainer = Trainer(list(configs.values()), max_rows=SCALE_ROWS)
    trainer.step(steps)
    history, k, n_params = trainer.history, trainer.k, trainer.layout.n_params
    rows = history.count
    theta = history.params[:rows].reshape(-1, n_params)
    with torch.inference_mode():
        post = trainer.forward(theta, trainer.x_train, for_backward=False).post
        _, grad = trainer.gradients(theta)
    act_std = np.stack([_std(a) for a in post], -1).reshape(rows, k, depth).transpose(1, 0, 2)
    weights = [w for w, _ in trainer.layout.views(grad)]
    grad_std = np.stack([_std(w) for w in weights], -1).reshape(rows, k, depth + 1).transpose(1, 0, 2)
    per_layer = [a.reshape(rows, k, -1).double().numpy() for a in post]
    return InitScale(
        labels=tuple(configs), configs=configs, steps=history.steps,
        loss=np.stack([history.metric("train_loss", r) for r in range(k)]),
        test_accuracy=np.stack([history.metric("test_accuracy", r) for r in range(k)]),
        gap=np.stack([np.atleast_1d(gap(history.neuron_vectors(0, r))) for r in range(k)]),
        act_std=act_std, grad_std=grad_std,
        first=[a[0] for a in per_layer], last=[a[-1] for a in per_layer],
        diverged_at=list(trainer.diverged_at), seconds=time.perf_counter() - start,
    )


FADES, HOLDS, GROWS = "it fades toward zero", "it keeps about the same size", "it blows up or sticks at the limits"
SIGNAL_CHOICES = (FADES, HOLDS, GROWS)
SIGNAL_FACTOR = 10.0  # a change by more than this from the first hidden layer to the last counts
SATURATED = 0.99      # a tanh activation this close to ±1 is stuck: its slope is below 0.02
SATURATED_SHARE = 0.5


def signal_verdict(result: InitScale, run: int) -> str:
    """How the activations change from the first hidden layer to the last at step 0, for one start."""
    stds = result.act_std[run, 0]
    first, last = float(stds[0]), float(stds[-1])
    if not first > 0:
        return FADES
    tanh = result.configs[result.labels[run]].model.activation == "tanh"
    if tanh and float(np.mean(np.abs(result.first[-1][run]) > SATURATED)) > SATURATED_SHARE:
        return GROWS
    ratio = last / first
    return FADES if ratio < 1 / SIGNAL_FACTOR else GROWS if not ratio <= SIGNAL_FACTOR else HOLDS


PLATEAU_DROP = 0.05  # a start has left its plateau once its loss is this far below where it began


def leaves_plateau(steps: np.ndarray, loss: np.ndarray, drop: float = PLATEAU_DROP) -> float:
    """The first recorded step at which the loss is `drop` below its start (NaN if never)."""
    hit = np.flatnonzero(loss <= loss[0] - drop)
    return float(steps[hit[0]]) if len(hit) else math.nan


def scale_sentences(result: InitScale) -> list[str]:
    """One sentence per start, from the measured signal sizes, plateau and gap."""
    out = []
    for r, name in enumerate(result.labels):
        acts = result.act_std[r, 0]
        if result.diverged_at[r] is not None:
            tail = f"training diverged at step {result.diverged_at[r]:,}"
        else:
            left = leaves_plateau(result.steps, result.loss[r])
            tail = (f"the loss stays at {result.loss[r, -1]:.3f} for all {int(result.steps[-1]):,} steps"
                    if math.isnan(left) else f"the loss starts to fall at step {left:,.0f}")
        if not acts[0] > 0:
            signal = "every hidden activation is exactly 0"
        else:
            signal = (f"the activations' std goes from {acts[0]:.2g} in layer 1 to {acts[-1]:.2g} in layer "
                      f"{len(acts)}")
        out.append(f"**{name}:** {signal}; the first layer's neurons are {result.gap[r, 0]:.2g} apart at the "
                   f"start and {result.gap[r, -1]:.2g} at the end; {tail}.")
    return out


def variance_rule(scheme: str, fan_in: int, fan_out: int) -> float:
    """The published weight variance: Glorot & Bengio (2010) 2/(fan_in+fan_out); He et al. (2015) 2/fan_in."""
    if scheme.startswith("xavier"):
        return 2.0 / (fan_in + fan_out)
    if scheme.startswith("he"):
        return 2.0 / fan_in
    raise ValueError(f"scheme: no published variance rule for '{scheme}'")


# ---------------------------------------------------------------------------------------------
# Lesson 8: the course's initialization experiment

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
        "final loss": _final(trainer, "train_loss", run),
        "train accuracy": _final(trainer, "train_accuracy", run),
        "test accuracy": _final(trainer, "test_accuracy", run),
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
