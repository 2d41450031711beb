"""Lesson 1, why the gradients match: the 2-2-1 network worked by the chain rule in NumPy.

It is written neuron by neuron, independently of the torch engine (tests prove the two agree), so the page
can show each factor of each parameter's gradient next to the engine's own training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from symbreak.engine.trainer import Trainer
from symbreak.settings.config import Config
from symbreak.settings.explicit import explicit_json, parse_explicit
from symbreak.settings.presets import UNTIED_OUTGOING_221

PARAMS_221 = ("w1", "w2", "w3", "w4", "b1", "b2", "w5", "w6", "b3")  # the engine's flat order
WEIGHTS_221 = ("w1", "w2", "w3", "w4", "w5", "w6")
OUTPUT_PARAMS_221 = ("w5", "w6", "b3")
NEURON_PAIRS_221 = (("w1", "w3"), ("w2", "w4"), ("b1", "b2"), ("w5", "w6"))
UNTIE_GAP = 1.2  # "untie the outgoing weights" sets w6 = w5 − UNTIE_GAP
LESSON1_LR = 1.0
CHAIN_FACTORS = ("dJ/da3", "da3/dz3", "w5 or w6", "σ'(z)", "input")
SAMPLE_GRADIENT = "dJ/dθ, this sample"
MEAN_GRADIENT = "dJ/dθ, batch mean"


def values_221(layers: Sequence[tuple[Sequence, Sequence]]) -> dict[str, float]:
    """Name each parameter of the 2-2-1 net, from (weight, bias) per layer as the engine gives them."""
    (w1, b1), (w2, b2) = layers
    flat = [*np.ravel(w1), *np.ravel(b1), *np.ravel(w2), *np.ravel(b2)]
    if len(flat) != len(PARAMS_221):
        raise ValueError(f"expected the 2-2-1 network's {len(PARAMS_221)} parameters, got {len(flat)}")
    return {name: float(v) for name, v in zip(PARAMS_221, flat)}


def explicit_221(values: Mapping[str, float]) -> str:
    """The `init_weights` JSON that starts the 2-2-1 net at `values`."""
    v = {k: float(values[k]) for k in PARAMS_221}
    return explicit_json([
        ([[v["w1"], v["w2"]], [v["w3"], v["w4"]]], [v["b1"], v["b2"]]),
        ([[v["w5"], v["w6"]]], [v["b3"]]),
    ])


DEFAULT_221 = values_221([(np.array(layer["weight"]), np.array(layer["bias"]))
                          for layer in parse_explicit(UNTIED_OUTGOING_221)])


def config_221(values: Mapping[str, float] | None = None, lr: float = LESSON1_LR, dtype: str = "float32") -> Config:
    """The 2-2-1 network on `coffee`: x1, x2 → two sigmoid neurons → one sigmoid output, from `values`."""
    return Config.from_flat({"dataset": "coffee", "hidden": "2", "activation": "sigmoid", "lr": repr(float(lr)),
                             "dtype": dtype, "init_weights": explicit_221(values or DEFAULT_221)})


def tie_221(values: Mapping[str, float]) -> dict[str, float]:
    """Make neuron 2 a copy of neuron 1: w3 = w1, w4 = w2, b2 = b1 and w6 = w5."""
    out = dict(values)
    out.update(w3=out["w1"], w4=out["w2"], b2=out["b1"], w6=out["w5"])
    return out


def untie_outgoing_221(values: Mapping[str, float]) -> dict[str, float]:
    """Tie the neurons' incoming weights and biases, but give them different outgoing weights (w6 ≠ w5)."""
    out = tie_221(values)
    out["w6"] = round(out["w5"] - UNTIE_GAP, 6)
    return out


def _sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # e^(-z) overflowing to inf still gives the right limit, 0
        return 1.0 / (1.0 + np.exp(-z))


def forward_221(values: Mapping[str, float], x: np.ndarray) -> dict[str, np.ndarray]:
    """z and a of every neuron for inputs x [N, 2], written neuron by neuron (no matmul: tied neurons stay equal)."""
    v = {k: np.float64(values[k]) for k in PARAMS_221}
    x1, x2 = x[:, 0], x[:, 1]
    z1 = v["w1"] * x1 + v["w2"] * x2 + v["b1"]
    z2 = v["w3"] * x1 + v["w4"] * x2 + v["b2"]
    a1, a2 = _sigmoid(z1), _sigmoid(z2)
    z3 = v["w5"] * a1 + v["w6"] * a2 + v["b3"]
    return {"x1": x1, "x2": x2, "z1": z1, "z2": z2, "a1": a1, "a2": a2, "z3": z3, "a3": _sigmoid(z3)}


def _chain_factors(values: Mapping[str, float], x: np.ndarray, y: np.ndarray) -> dict[str, list[np.ndarray | float]]:
    """Per parameter, its chain-rule factors per sample: dJ/da3, da3/dz3, w5|w6, σ'(z), input.

    J is one sample's binary cross-entropy. The two output factors are kept apart because that is
    how the chain reads; their product is simply a3 − y. Output-layer parameters have no w5|w6 or
    σ'(z) factor (NaN).
    """
    f = forward_221(values, x)
    a3 = f["a3"]
    with np.errstate(divide="ignore", invalid="ignore"):  # a saturated output shows dJ/da3 as ±inf or NaN
        dj_da3 = (a3 - y) / (a3 * (1.0 - a3))
    da3_dz3 = a3 * (1.0 - a3)
    slope1, slope2 = f["a1"] * (1.0 - f["a1"]), f["a2"] * (1.0 - f["a2"])
    w5, w6 = float(values["w5"]), float(values["w6"])
    one = np.ones_like(a3)
    return {
        "w1": [dj_da3, da3_dz3, w5, slope1, f["x1"]],
        "w2": [dj_da3, da3_dz3, w5, slope1, f["x2"]],
        "b1": [dj_da3, da3_dz3, w5, slope1, one],
        "w3": [dj_da3, da3_dz3, w6, slope2, f["x1"]],
        "w4": [dj_da3, da3_dz3, w6, slope2, f["x2"]],
        "b2": [dj_da3, da3_dz3, w6, slope2, one],
        "w5": [dj_da3, da3_dz3, math.nan, math.nan, f["a1"]],
        "w6": [dj_da3, da3_dz3, math.nan, math.nan, f["a2"]],
        "b3": [dj_da3, da3_dz3, math.nan, math.nan, one],
    }


def _per_sample_gradients(values: Mapping[str, float], x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """dJ_i/dθ for every sample i: (a3 − y) times the remaining factors of the chain.

    a3 − y stands for dJ/da3 · da3/dz3 so that a saturated output (a3(1 − a3) → 0) cannot divide by zero.
    """
    delta = forward_221(values, x)["a3"] - y
    out = {}
    for name, (_, _, back, slope, inp) in _chain_factors(values, x, y).items():
        out[name] = delta * inp if name in OUTPUT_PARAMS_221 else delta * back * slope * inp
    return out


def batch_gradients_221(values: Mapping[str, float], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The batch-mean gradient [9] in the engine's order (w1 w2 w3 w4 b1 b2 w5 w6 b3), by the chain rule."""
    per_sample = _per_sample_gradients(values, np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return np.array([per_sample[name].mean() for name in PARAMS_221])


CHAIN_TEXT = {
    "w1": "dJ/da3 · da3/dz3 · w5 · σ'(z1) · x1",
    "w2": "dJ/da3 · da3/dz3 · w5 · σ'(z1) · x2",
    "b1": "dJ/da3 · da3/dz3 · w5 · σ'(z1) · 1",
    "w3": "dJ/da3 · da3/dz3 · w6 · σ'(z2) · x1",
    "w4": "dJ/da3 · da3/dz3 · w6 · σ'(z2) · x2",
    "b2": "dJ/da3 · da3/dz3 · w6 · σ'(z2) · 1",
    "w5": "dJ/da3 · da3/dz3 · a1",
    "w6": "dJ/da3 · da3/dz3 · a2",
    "b3": "dJ/da3 · da3/dz3 · 1",
}
TABLE_ORDER_221 = ("w1", "w3", "w2", "w4", "b1", "b2", "w5", "w6", "b3")  # neuron-1 row above its neuron-2 twin


def chain_rule_table(values: Mapping[str, float], x: np.ndarray, y: np.ndarray, sample: int = 0) -> pd.DataFrame:
    """One row per parameter: its value, its chain rule, each factor's value for one sample, that
    sample's gradient, and the batch-mean gradient (the one the optimizer uses)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if not 0 <= sample < len(y):
        raise ValueError(f"sample must be between 1 and {len(y)} (got {sample + 1})")
    factors = _chain_factors(values, x, y)
    per_sample = _per_sample_gradients(values, x, y)
    rows = []
    for name in TABLE_ORDER_221:
        row = {"value": float(values[name]), "chain rule": CHAIN_TEXT[name]}
        for label, value in zip(CHAIN_FACTORS, factors[name]):
            row[label] = float(value if np.ndim(value) == 0 else value[sample])
        row[SAMPLE_GRADIENT] = float(per_sample[name][sample])
        row[MEAN_GRADIENT] = float(per_sample[name].mean())
        rows.append(row)
    return pd.DataFrame(rows, index=pd.Index(TABLE_ORDER_221, name="parameter"))


def neuron_differences(table: pd.DataFrame) -> pd.DataFrame:
    """True where a number differs between neuron 1's parameter and its neuron-2 twin (w1/w3, w2/w4, b1/b2, w5/w6)."""
    mask = pd.DataFrame(False, index=table.index, columns=table.columns)
    numeric = [c for c in table.columns if c != "chain rule"]
    for a, b in NEURON_PAIRS_221:
        for col in numeric:
            va, vb = table.at[a, col], table.at[b, col]
            if not (va == vb or (math.isnan(va) and math.isnan(vb))):
                mask.at[a, col] = mask.at[b, col] = True
    return mask


def why_gradients_differ(values: Mapping[str, float]) -> list[str]:
    """Short reasons the two neurons get different gradients, or why they cannot."""
    reasons = []
    if (values["w1"], values["w2"], values["b1"]) != (values["w3"], values["w4"], values["b2"]):
        reasons.append("The neurons have different incoming weights or biases, so z1 ≠ z2 and σ'(z1) ≠ σ'(z2).")
    if values["w5"] != values["w6"]:
        reasons.append("w5 ≠ w6: the error flows back to the two neurons with different strength.")
    return reasons


def param_series_221(trainer: Trainer) -> pd.DataFrame:
    """Recorded parameters of the 2-2-1 net, one column per name, indexed by step."""
    (w1, b1), (w2, b2) = (trainer.history.layer_params(layer) for layer in range(2))
    flat = np.concatenate([w1.reshape(len(w1), -1), b1, w2.reshape(len(w2), -1), b2], axis=1)
    return pd.DataFrame(flat, columns=list(PARAMS_221), index=pd.Index(trainer.history.steps, name="step"))


def gradient_series_221(trainer: Trainer) -> pd.DataFrame:
    """The full-batch gradient at each recorded step (the one the next update uses), one column per name.

    History row r stores the gradient of the update that led to it, computed at the step before;
    the gradient at the current step comes from `Trainer.gradients`.
    """
    (w1, b1), (w2, b2) = (trainer.history.layer_params(layer, grads=True) for layer in range(2))
    flat = np.concatenate([w1.reshape(len(w1), -1), b1, w2.reshape(len(w2), -1), b2], axis=1)[1:]
    current = trainer.gradients()[1][0].double().numpy()
    steps = np.append(trainer.history.steps[1:] - 1, trainer.step_count)
    return pd.DataFrame(np.vstack([flat, current]), columns=list(PARAMS_221), index=pd.Index(steps, name="step"))
