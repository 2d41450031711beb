"""Lesson: how big a random start. In a deep net the size of the random start decides whether the signal fades, holds
or blows up from layer to layer (Glorot & Bengio 2010; He et al. 2015). Pure functions of configs (no streamlit)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from symbreak.engine.metrics import gap
from symbreak.engine.trainer import Trainer
from symbreak.settings.config import Config

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
