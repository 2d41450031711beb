"""One frozen configuration tree for a run: data, model, init, training, seed.

Every field is validated with a message that names the field and what it
accepts. A config round-trips through a flat dict of strings (the app keeps it
in the URL) and through JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "linear")
OPTIMIZERS = ("sgd", "momentum", "adam")
TASK_CHOICES = ("auto", "binary", "multiclass", "regression")
DTYPES = ("float32", "float64")
ARITHMETIC = ("exact", "blas")
INIT_SCHEMES = (
    "zeros", "constant", "normal", "uniform", "xavier_uniform", "xavier_normal",
    "he_uniform", "he_normal", "torch_default",
)
SCHEMES_WITH_PARAM = {"constant": 0.5, "normal": 0.1, "uniform": 0.1}
MAX_HIDDEN_LAYERS = 8
MAX_WIDTH = 64
MAX_DROPOUT = 0.9
MAX_STEPS = 1_000_000
# Bounds on values from outside (a link, a file, the command line); the sidebar's widgets use the same.
MAX_INIT_PARAM = 100.0  # |parameter| of the constant, normal and uniform schemes
MIN_LR, MAX_LR = 1e-6, 100.0
MAX_WEIGHT_DECAY = 10.0
MAX_PERTURB = 10.0
MAX_SEED = 2**31 - 1
# Largest |value| of an explicit starting weight: far past any useful start, far below a float32 overflow.
MAX_EXPLICIT_WEIGHT = 1e4
MAX_VALUE_CHARS = 4096  # longest setting value accepted from outside, except init_weights
# Longest init_weights text. The largest valid network (64 inputs, 3 hidden layers of 64, 64 classes)
# has 4 x (64 x 64 + 64) = 16,640 values; written compactly each takes at most 25 characters (the longest
# float repr, '-2.2250738585072014e-308', and a comma), 416,000 in all, plus under 1,000 of brackets and
# keys. 2**19 leaves room for a space after every comma.
MAX_EXPLICIT_CHARS = 2**19
BUILTIN_DATASETS = (
    "coffee", "demand", "xor", "circles", "moons", "spiral", "gaussians", "blobs3", "sine",
)


class ConfigError(ValueError):
    """A config value the user must change; the message names the field."""


def parse_scheme(text: str, field_name: str = "init") -> tuple[str, float | None]:
    """Split 'SCHEME[:PARAM]' into its name and parameter, validating both."""
    name, _, param = str(text).strip().partition(":")
    name = name.strip().lower().replace("-", "_")
    if name not in INIT_SCHEMES:
        raise ConfigError(f"{field_name}: unknown scheme '{text}'; choose one of {', '.join(INIT_SCHEMES)}")
    if name not in SCHEMES_WITH_PARAM:
        if param.strip():
            raise ConfigError(f"{field_name}: scheme '{name}' takes no parameter (got '{text}')")
        return name, None
    if not param.strip():
        return name, SCHEMES_WITH_PARAM[name]
    try:
        value = float(param)
    except ValueError:
        raise ConfigError(f"{field_name}: parameter of '{name}' must be a number (got '{param}')") from None
    if not math.isfinite(value):
        raise ConfigError(f"{field_name}: parameter of '{name}' must be finite (got '{param}')")
    if name in ("normal", "uniform") and value < 0:
        raise ConfigError(f"{field_name}: the spread of '{name}' must be ≥ 0 (got {value})")
    return name, value


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigError(f"{name}: must be between {low:g} and {high:g} (got {value})")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name}: '{value}' is not one of {', '.join(choices)}")


@dataclass(frozen=True)
class DataConfig:
    """Which data to train on: a built-in dataset or a CSV file."""

    dataset: str = "coffee"
    path: str = ""
    target: str = ""
    task: str = "auto"
    standardize: bool = False
    n_samples: int = 400
    noise: float = 0.1
    test_fraction: float = 0.2

    def __post_init__(self) -> None:
        if self.dataset != "csv" and self.dataset not in BUILTIN_DATASETS:
            raise ConfigError(
                f"dataset: unknown dataset '{self.dataset}'; choose one of {', '.join(BUILTIN_DATASETS)} or csv"
            )
        _check_choice("task", self.task, TASK_CHOICES)
        _check_range("n_samples", self.n_samples, 10, 100_000)
        _check_range("noise", self.noise, 0.0, 1.0)
        _check_range("test_fraction", self.test_fraction, 0.0, 0.5)


@dataclass(frozen=True)
class ModelConfig:
    """The MLP's shape: hidden widths (empty for none) and their activation."""

    hidden: tuple[int, ...] = (8,)
    activation: str = "sigmoid"

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if len(self.hidden) > MAX_HIDDEN_LAYERS:
            raise ConfigError(f"hidden: at most {MAX_HIDDEN_LAYERS} hidden layers (got {len(self.hidden)})")
        for width in self.hidden:
            if not 1 <= width <= MAX_WIDTH:
                raise ConfigError(f"hidden: each layer's width must be between 1 and {MAX_WIDTH} (got {width})")
        _check_choice("activation", self.activation, ACTIVATIONS)


@dataclass(frozen=True)
class InitConfig:
    """How the starting parameters are drawn, or given explicitly as JSON."""

    weight: str = "constant:0.5"
    bias: str = "zeros"
    perturb: float = 0.0
    explicit: str = ""

    def __post_init__(self) -> None:
        parse_scheme(self.weight, "init")
        parse_scheme(self.bias, "bias_init")
        _check_range("perturb", self.perturb, 0.0, 10.0)
        if self.explicit:
            parse_explicit(self.explicit)


@dataclass(frozen=True)
class TrainConfig:
    """How the parameters are updated, and in what arithmetic."""

    optimizer: str = "sgd"
    lr: float = 1.0
    weight_decay: float = 0.0
    batch_size: int = 0
    dropout: float = 0.0
    steps: int = 300
    dtype: str = "float32"
    arithmetic: str = "exact"

    def __post_init__(self) -> None:
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if not (math.isfinite(self.lr) and 0 < self.lr <= 100):
            raise ConfigError(f"lr: the learning rate must be above 0 and at most 100 (got {self.lr})")
        _check_range("weight_decay", self.weight_decay, 0.0, 10.0)
        _check_range("batch_size", self.batch_size, 0, 100_000)
        _check_range("dropout", self.dropout, 0.0, MAX_DROPOUT)
        _check_range("steps", self.steps, 0, MAX_STEPS)
        _check_choice("dtype", self.dtype, DTYPES)
        _check_choice("arithmetic", self.arithmetic, ARITHMETIC)


@dataclass(frozen=True)
class Config:
    """Everything that decides a run. One seed fixes data, init, dropout and shuffling."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    init: InitConfig = field(default_factory=InitConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    tol: float = 1e-6

    def __post_init__(self) -> None:
        _check_range("seed", self.seed, 0, 2**31 - 1)
        _check_range("tol", self.tol, 0.0, 1.0)

    def to_flat(self) -> dict[str, str]:
        """Every field as a string under its flat name (the CLI flag and URL key)."""
        out: dict[str, str] = {}
        for key, (section, attr) in FLAT_FIELDS.items():
            value = getattr(getattr(self, section), attr) if section else getattr(self, attr)
            out[key] = _format(value)
        return out

    @classmethod
    def from_flat(cls, flat: dict[str, Any], base: Config | None = None, strict: bool = True) -> Config:
        """Build a config from flat string values over `base`; unknown keys fail when strict."""
        base = base or cls()
        sections: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "init": {}, "train": {}, "": {}}
        for key, raw in flat.items():
            if key not in FLAT_FIELDS:
                if strict:
                    raise ConfigError(f"unknown setting '{key}'; known settings: {', '.join(FLAT_FIELDS)}")
                continue
            section, attr = FLAT_FIELDS[key]
            template = getattr(getattr(base, section), attr) if section else getattr(base, attr)
            sections[section][attr] = _parse(key, raw, template)
        return replace(
            base,
            data=replace(base.data, **sections["data"]),
            model=replace(base.model, **sections["model"]),
            init=replace(base.init, **sections["init"]),
            train=replace(base.train, **sections["train"]),
            **sections[""],
        )

    def to_json(self) -> str:
        """The nested config as indented JSON."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Config:
        """Read a config written by `to_json` (missing fields take their defaults)."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config JSON: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(raw, dict):
            raise ConfigError("config JSON: expected an object with data, model, init, train, seed")
        flat: dict[str, Any] = {}
        for key, (section, attr) in FLAT_FIELDS.items():
            holder = raw.get(section, {}) if section else raw
            if isinstance(holder, dict) and attr in holder:
                flat[key] = holder[attr]
        return cls.from_flat(flat)

    def with_flat(self, **changes: Any) -> Config:
        """A copy with some flat-named fields changed (values of the field's own type or strings)."""
        return Config.from_flat(changes, base=self)


FLAT_FIELDS: dict[str, tuple[str, str]] = {
    **{f.name: ("data", f.name) for f in fields(DataConfig)},
    **{f.name: ("model", f.name) for f in fields(ModelConfig)},
    "init": ("init", "weight"),
    "bias_init": ("init", "bias"),
    "perturb": ("init", "perturb"),
    "init_weights": ("init", "explicit"),
    **{f.name: ("train", f.name) for f in fields(TrainConfig)},
    "seed": ("", "seed"),
    "tol": ("", "tol"),
}


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _parse(key: str, raw: Any, template: Any) -> Any:
    """Parse one flat value to the type of its field, with a message naming the field."""
    if not isinstance(raw, str):
        if isinstance(template, tuple) and isinstance(raw, (list, tuple)):
            return tuple(raw)
        if isinstance(template, bool) or not isinstance(raw, (int, float)) or isinstance(raw, bool):
            raw = _format(raw) if not isinstance(raw, str) else raw
        else:
            return float(raw) if isinstance(template, float) else _to_int(key, raw)
    text = raw.strip()
    try:
        if isinstance(template, bool):
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError
        if isinstance(template, tuple):
            widths = tuple(int(p) for p in text.replace(" ", "").split(",") if p)
            return () if widths in ((), (0,)) else widths
        if isinstance(template, int):
            return _to_int(key, float(text))
        if isinstance(template, float):
            return float(text)
    except ValueError:
        kind = {bool: "true or false", tuple: "widths like 8 or 8,8 (0 for none)", int: "a whole number",
                float: "a number"}[type(template)]
        raise ConfigError(f"{key}: expected {kind} (got '{raw}')") from None
    return text


def _to_int(key: str, value: float) -> int:
    if not math.isfinite(value) or value != int(value):
        raise ConfigError(f"{key}: expected a whole number (got {value})")
    return int(value)


def parse_explicit(text: str) -> list[dict[str, list]]:
    """Parse explicit parameters JSON: {"layers": [{"weight": [[..]], "bias": [..]}, ...]}."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"init_weights: not valid JSON ({exc.msg})") from None
    layers = raw.get("layers") if isinstance(raw, dict) else None
    if not isinstance(layers, list) or not layers:
        raise ConfigError('init_weights: expected {"layers": [{"weight": [[...]], "bias": [...]}, ...]}')
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or "weight" not in layer or "bias" not in layer:
            raise ConfigError(f"init_weights: layer {i} needs a 'weight' matrix and a 'bias' list")
        weight, bias = layer["weight"], layer["bias"]
        if not (isinstance(weight, list) and weight and all(isinstance(r, list) and r for r in weight)):
            raise ConfigError(f"init_weights: layer {i} 'weight' must be a non-empty list of rows")
        if len({len(r) for r in weight}) != 1:
            raise ConfigError(f"init_weights: layer {i} 'weight' rows have different lengths")
        if not isinstance(bias, list) or len(bias) != len(weight):
            raise ConfigError(f"init_weights: layer {i} 'bias' must have one value per row of 'weight' ({len(weight)})")
        values = [v for r in weight for v in r] + list(bias)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            raise ConfigError(f"init_weights: layer {i} holds a value that is not a finite number")
    return layers


def explicit_json(layers: list[tuple[list[list[float]], list[float]]]) -> str:
    """Compact JSON for explicit parameters, given (weight rows, bias) per layer."""
    return json.dumps({"layers": [{"weight": w, "bias": b} for w, b in layers]}, separators=(",", ":"))


TIED_221 = explicit_json([([[0.5, -0.3], [0.5, -0.3]], [0.0, 0.0]), ([[0.8, 0.8]], [0.0])])
UNTIED_OUTGOING_221 = explicit_json([([[0.5, -0.3], [0.5, -0.3]], [0.0, 0.0]), ([[0.8, -0.4]], [0.0])])

PRESETS: dict[str, tuple[str, dict[str, str]]] = {
    "constant": ("every weight 0.5, no dropout: the eight neurons move as one", {}),
    "zeros-sigmoid": ("every weight and bias 0 with sigmoid: the neurons move, but in lockstep",
                      {"init": "zeros", "bias_init": "zeros", "activation": "sigmoid"}),
    "constant-dropout": ("every weight 0.5 with dropout 0.2: random masks split the neurons",
                         {"dropout": "0.2"}),
    "random": ("Xavier random start: every neuron starts somewhere else and learns its own feature",
               {"init": "xavier_uniform", "bias_init": "zeros"}),
    "perturbed": ("every weight 0.5 plus noise of size 1e-4: a tiny tie-break grows",
                  {"perturb": "0.0001"}),
    "tied-221": ("the 2-2-1 net with w1=w3, w2=w4, w5=w6: the two neurons stay identical",
                 {"hidden": "2", "init_weights": TIED_221}),
    "untied-outgoing": ("the 2-2-1 net with w5≠w6: different outgoing weights split the neurons",
                        {"hidden": "2", "init_weights": UNTIED_OUTGOING_221}),
    "softmax-zero": ("no hidden layer, 3 classes, zero start: the class rows still split",
                     {"dataset": "blobs3", "hidden": "0", "init": "zeros", "bias_init": "zeros"}),
}
DEFAULT_PRESET = "constant"


def preset(name: str) -> Config:
    """The named preset as a full config."""
    if name not in PRESETS:
        raise ConfigError(f"preset: unknown preset '{name}'; choose one of {', '.join(PRESETS)}")
    return Config.from_flat(PRESETS[name][1])
