"""The computations behind the five lessons; pure functions of configs and trainers (no streamlit).

1. Why the gradients match: a 2-2-1 network worked by the chain rule in NumPy,
   independently of the torch engine (tests prove the two agree).
2. What breaks symmetry: one batched experiment over fourteen interventions from a constant start.
3. No hidden layer: softmax regression from zero splits its class rows, whose columns sum to zero.
4. How fast they split: a perturbation of size ε grows exponentially, so the split comes ~ln(1/ε) later.
5. Compare: two to four configurations trained side by side.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .config import UNTIED_OUTGOING_221, Config, explicit_json, parse_explicit, preset
from .data import Dataset
from .metrics import distinct, spread
from .trainer import Trainer, load_dataset, run_side_by_side

# ---------------------------------------------------------------------------------------------
# Lesson 1: the chain rule of the 2-2-1 network

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


# ---------------------------------------------------------------------------------------------
# Lesson 2: what breaks symmetry

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
    table: pd.DataFrame                 # label, outcome, spread, distinct, final loss, spread over steps, why
    series: list[np.ndarray] = field(default_factory=list)       # spread over recorded steps, per row
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
        over_steps = np.atleast_1d(spread(vectors))
        final = float(over_steps[-1])
        series.append(over_steps)
        series_steps.append(trainer.history.steps)
        rows.append({
            "intervention": row.label,
            "outcome": TIED if not over_steps.any() else SPLIT,
            "spread": final,
            "distinct neurons": int(distinct(vectors[-1], config.tol)),
            "final loss": float(trainer.final_loss[run]),
            "spread over steps": over_steps.tolist(),
            "why": row.why,
        })
    return BreakerMatrix(steps, configs, pd.DataFrame(rows), series, series_steps, time.perf_counter() - started,
                         len(trainers))


# ---------------------------------------------------------------------------------------------
# Lesson 3: no hidden layer

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
    steps: np.ndarray             # [T] recorded steps (both runs record the same steps)
    class_rows: np.ndarray        # [T, 3, 3] softmax: per class, weight from x1, from x2, bias
    column_sums: np.ndarray       # [T, 3] sum over the class rows of each column
    class_spread: np.ndarray      # [T] spread of the class rows
    hidden: np.ndarray            # [T, width, 3] hidden neurons: weight from x1, from x2, bias
    hidden_spread: np.ndarray     # [T]
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
        class_spread=np.atleast_1d(spread(rows)), hidden=neurons, hidden_spread=np.atleast_1d(spread(neurons)),
        class_distinct=int(distinct(rows[-1], configs[0].tol)),
        hidden_distinct=int(distinct(neurons[-1], configs[1].tol)),
        softmax_loss=softmax.final_loss[0], hidden_loss=hidden.final_loss[0],
        softmax_accuracy=accuracy[0], hidden_accuracy=accuracy[1],
    )


# ---------------------------------------------------------------------------------------------
# Lesson 4: how fast they split

SPLIT_EPSILONS = tuple(float(e) for e in np.logspace(-8, -1, 8))
SPLIT_STEPS = 400
SPLIT_LR = 10.0           # large enough that even ε = 1e-8 splits within SPLIT_STEPS
SPLIT_THRESHOLD = 1.0     # split = two neurons at least this far apart (above every ε's starting spread)
SPLIT_WINDOW = 1e-2       # growth rates are fitted while the spread is below this
MIN_FIT_POINTS = 3


def split_config(steps: int = SPLIT_STEPS, lr: float = SPLIT_LR) -> Config:
    """Identical sigmoid neurons (every weight 0.5) on coffee, in float64 so ε = 1e-8 is resolved."""
    return Config.from_flat({"dataset": "coffee", "hidden": "8", "activation": "sigmoid", "init": "constant:0.5",
                             "lr": repr(float(lr)), "dtype": "float64", "steps": str(steps)})


def growth_rate(steps: np.ndarray, spreads: np.ndarray, upper: float = SPLIT_WINDOW) -> float:
    """Least-squares slope of ln(spread) against step while 0 < spread < upper (NaN if too few points)."""
    steps = np.asarray(steps, dtype=np.float64)
    spreads = np.asarray(spreads, dtype=np.float64)
    small = np.flatnonzero(~((spreads > 0) & (spreads < upper)))
    end = small[0] if len(small) else len(spreads)  # the window ends where the spread first leaves it
    if end < MIN_FIT_POINTS:
        return math.nan
    return float(np.polyfit(steps[:end], np.log(spreads[:end]), 1)[0])


def time_to_split(steps: np.ndarray, spreads: np.ndarray, threshold: float = SPLIT_THRESHOLD) -> float:
    """The first recorded step at which the spread reaches `threshold` (NaN if it never does)."""
    hit = np.flatnonzero(np.asarray(spreads) >= threshold)
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
    """Spread over steps for each ε, the fitted growth rates and the times to split."""

    config: Config
    epsilons: np.ndarray       # [E]
    steps: np.ndarray          # [T]
    spreads: np.ndarray        # [E, T]
    rates: np.ndarray          # [E] fitted growth rate per step (NaN where no small-spread window)
    split_steps: np.ndarray    # [E] first step with spread ≥ threshold (NaN if never)
    threshold: float
    window: float
    slope: float               # time to split against ln(1/ε): steps per unit of ln(1/ε)
    intercept: float
    correlation: float

    @property
    def log_inv_eps(self) -> np.ndarray:
        return np.log(1.0 / self.epsilons)

    @property
    def shrinks_first(self) -> np.ndarray:
        """[E] whether the spread dips below its starting value before it grows."""
        return self.spreads.min(axis=1) < self.spreads[:, 0]

    def table(self) -> pd.DataFrame:
        """One row per ε: starting and final spread, growth rate, time to split."""
        return pd.DataFrame({
            "ε": self.epsilons,
            "ln(1/ε)": self.log_inv_eps,
            "spread at step 0": self.spreads[:, 0],
            "growth rate per step": self.rates,
            "step of split": self.split_steps,
            "spread at the end": self.spreads[:, -1],
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
    spreads = np.stack([np.atleast_1d(spread(trainer.history.neuron_vectors(0, run))) for run in range(len(eps))])
    rates = np.array([growth_rate(recorded, s, window) for s in spreads])
    split_steps = np.array([time_to_split(recorded, s, threshold) for s in spreads])
    slope, intercept, corr = line_fit(np.log(1.0 / eps), split_steps)
    return SplitSpeed(base, eps, recorded, spreads, rates, split_steps, threshold, window, slope, intercept, corr)


# ---------------------------------------------------------------------------------------------
# Lesson 5: compare configurations side by side

COMPARE_DEFAULT = ("constant", "constant-dropout")
MAX_COMPARE = 4


class Comparison:
    """Two to four configurations on the same data and seed, batched where they are compatible."""

    def __init__(self, configs: Sequence[Config], names: Sequence[str] | None = None,
                 dataset: Dataset | None = None) -> None:
        if not 1 <= len(configs) <= MAX_COMPARE:
            raise ValueError(f"compare: choose between 1 and {MAX_COMPARE} configurations (got {len(configs)})")
        if len({c.data for c in configs}) > 1 or len({c.seed for c in configs}) > 1:
            raise ValueError("compare: the configurations must share their data settings and seed")
        self.configs = list(configs)
        self.names = list(names) if names is not None else [f"run {i + 1}" for i in range(len(configs))]
        self.placement = run_side_by_side(self.configs, dataset=dataset)

    @staticmethod
    def preset_configs(names: Sequence[str], seed: int = 0, overrides: Mapping[str, str] | None = None) -> list[Config]:
        """Each named preset with one shared seed and the same `overrides` (e.g. the dataset)."""
        changes = {"seed": str(seed), **(overrides or {})}
        return [preset(n).with_flat(**changes) for n in names]

    @property
    def trainers(self) -> list[Trainer]:
        """The distinct trainers (one per compatible group)."""
        return list({id(t): t for t, _ in self.placement}.values())

    @property
    def batches(self) -> int:
        return len(self.trainers)

    @property
    def step_count(self) -> int:
        return self.trainers[0].step_count

    def step(self, n: int) -> None:
        for trainer in self.trainers:
            trainer.step(n)

    def reset(self) -> None:
        for trainer in self.trainers:
            trainer.reset()

    def summary(self) -> pd.DataFrame:
        """Per configuration: final spread and distinct neurons of the first hidden layer, loss, accuracy."""
        rows = []
        for name, config, (trainer, run) in zip(self.names, self.configs, self.placement):
            has_hidden = bool(config.model.hidden)
            vectors = trainer.history.neuron_vectors(0, run) if has_hidden else None
            rows.append({
                "configuration": name,
                "spread": float(spread(vectors[-1])) if has_hidden else math.nan,
                "distinct neurons": int(distinct(vectors[-1], config.tol)) if has_hidden else 0,
                "train loss": float(trainer.final_loss[run]),
                "train accuracy": float(trainer.history.metric("train_accuracy", run)[-1]),
                "diverged": trainer.divergence_message(run),
            })
        return pd.DataFrame(rows)
