"""One frozen configuration tree for a run: data, model, init, training, seed.

Every field is validated with a message that names the field and what it
accepts. A config round-trips through a flat dict of strings (the app keeps it
in the URL) and through JSON.
"""

from __future__ import annotations

import json
import math
import reprlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import Any, get_type_hints

from . import settings
from .settings import (  # noqa: F401  (the bounds and choices are part of config's interface)
    ACTIVATIONS, ARITHMETIC, BUILTIN_DATASETS, CHOICE, DTYPES, FILE, HIDE_KEY, INIT_SCHEMES, INT, MAX_CLASSES,
    MAX_COLUMNS, MAX_DROPOUT, MAX_EXPLICIT_CHARS, MAX_EXPLICIT_WEIGHT, MAX_HIDDEN_LAYERS, MAX_INIT_PARAM, MAX_LR,
    MAX_NOISE, MAX_PERTURB, MAX_ROWS, MAX_SEED, MAX_STEPS, MAX_TEST_FRACTION, MAX_TOL, MAX_VALUE_CHARS,
    MAX_WEIGHT_DECAY, MAX_WIDTH, MIN_LR, MIN_SAMPLES, NUMBER, OPTIMIZERS, SCHEME, SCHEMES_WITH_PARAM, SETTINGS,
    TASK_CHOICES, WEIGHTS, WIDTHS,
)


QUOTE_CHARS = 60  # how much of a user's value a message shows


class ConfigError(ValueError):
    """A config value the user must change; the message names the field."""


class _Quoter(reprlib.Repr):
    """reprlib, bounded in depth and length, that also shows integers too long to print."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxtuple, self.maxdict = 3, 8, 8, 8
        self.maxstring = self.maxlong = self.maxother = QUOTE_CHARS

    def repr_int(self, value: int, level: int) -> str:
        try:
            digits = len(str(abs(value)))
        except ValueError:  # past Python's limit on the digits it converts
            return f"<integer of about {int(value.bit_length() * math.log10(2)) + 1} digits>"
        return super().repr_int(value, level) if digits <= QUOTE_CHARS else f"<integer of {digits} digits>"


_QUOTER = _Quoter()


def quote(value: Any) -> str:
    """A user's value for a message: repr-like, on one line, cut to about QUOTE_CHARS with an ellipsis."""
    text = repr(value[: QUOTE_CHARS + 1]) if isinstance(value, str) else _QUOTER.repr(value)
    text = text.replace("\n", " ").replace("\r", " ")
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…"


def _reason(exc: BaseException) -> str:
    """A short, one-line account of an unexpected exception, for a message that names the field."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, OverflowError):
        return "a number too large"
    detail = str(exc).splitlines()[0][:QUOTE_CHARS] if str(exc) else ""
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


@contextmanager
def _naming(name: str, value: Any) -> Iterator[None]:
    """Turn any exception but a ConfigError into a ConfigError that names the field and quotes the value."""
    try:
        yield
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"{name}: cannot use {quote(value)} ({_reason(exc)})") from None


def parse_scheme(text: str, field_name: str = "init") -> tuple[str, float | None]:
    """Split 'SCHEME[:PARAM]' into its name and parameter, validating both."""
    with _naming(field_name, text):
        return _parse_scheme(str(text), field_name)


def _parse_scheme(text: str, field_name: str) -> tuple[str, float | None]:
    name, _, param = text.strip().partition(":")
    name = name.strip().lower().replace("-", "_")
    entry = SETTINGS[field_name]
    if name not in entry.choices:
        raise ConfigError(f"{field_name}: unknown scheme {quote(text)}; choose one of {', '.join(entry.choices)}")
    if name not in SCHEMES_WITH_PARAM:
        if param.strip():
            raise ConfigError(f"{field_name}: scheme '{name}' takes no parameter (got {quote(text)})")
        return name, None
    if not param.strip():
        return name, SCHEMES_WITH_PARAM[name]
    try:
        value = float(param)
    except ValueError:
        raise ConfigError(f"{field_name}: parameter of '{name}' must be a number (got {quote(param)})") from None
    if not math.isfinite(value):
        raise ConfigError(f"{field_name}: parameter of '{name}' must be finite (got {quote(param)})")
    if name in ("normal", "uniform") and value < 0:
        raise ConfigError(f"{field_name}: the spread of '{name}' must be ≥ 0 (got {value:g})")
    if not entry.low <= value <= entry.high:
        raise ConfigError(f"{field_name}: parameter of '{name}' {entry.refusal('')} (got {value:g})")
    return name, value


def _validate(section: Any, name: str) -> None:
    """Check every field of a config section against its registry entry (its range, choices or form).

    `name` is the section's name in FLAT_FIELDS ('' for the top level); widths are normalised in place.
    """
    for key, attr in [(key, attr) for key, (part, attr) in FLAT_FIELDS.items() if part == name]:
        entry, value = SETTINGS[key], getattr(section, attr)
        with _naming(key, value):
            if entry.kind in (NUMBER, INT) and not entry.low <= value <= entry.high:
                # NaN and integers too large for a float fail the comparison too
                raise ConfigError(f"{key}: {entry.refusal('')} (got {quote(value)})")
            if entry.kind == CHOICE and value not in entry.choices:
                raise ConfigError(f"{key}: {entry.refusal(quote(value))}")
            if entry.kind == FILE and "\0" in value:
                raise ConfigError(f"{key}: a file name cannot hold a NUL character (got {quote(value)})")
            if entry.kind == WIDTHS:
                object.__setattr__(section, attr, _checked_widths(key, value))
            if entry.kind == SCHEME:
                parse_scheme(value, key)
            if entry.kind == WEIGHTS and value:
                parse_explicit(value)


def _checked_widths(key: str, value: Any) -> tuple[int, ...]:
    """Hidden widths as a tuple of ints within the entry's count and bounds."""
    entry, widths = SETTINGS[key], _widths(value)
    if len(widths) > entry.items:
        raise ConfigError(f"{key}: at most {entry.items} hidden layers (got {len(widths)})")
    for width in widths:
        if not entry.low <= width <= entry.high:
            raise ConfigError(f"{key}: each layer's width must be between {entry.low} and {entry.high} (got {width})")
    return widths


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
        _validate(self, "data")


@dataclass(frozen=True)
class ModelConfig:
    """The MLP's shape: hidden widths (empty for none) and their activation."""

    hidden: tuple[int, ...] = (8,)
    activation: str = "sigmoid"

    def __post_init__(self) -> None:
        _validate(self, "model")


@dataclass(frozen=True)
class InitConfig:
    """How the starting parameters are drawn, or given explicitly as JSON."""

    weight: str = "constant:0.5"
    bias: str = "zeros"
    perturb: float = 0.0
    explicit: str = ""

    def __post_init__(self) -> None:
        _validate(self, "init")


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
        _validate(self, "train")


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
        _validate(self, "")

    def to_flat(self) -> dict[str, str]:
        """Every field as a string under its flat name (the CLI flag and URL key)."""
        out: dict[str, str] = {}
        for key, (section, attr) in FLAT_FIELDS.items():
            value = getattr(getattr(self, section), attr) if section else getattr(self, attr)
            out[key] = _format(value)
        return out

    @classmethod
    def from_flat(cls, flat: dict[str, Any], base: Config | None = None, strict: bool = True) -> Config:
        """Build a config from flat string values over `base`; unknown keys fail when strict.

        Any failure in reading or validating a value is a ConfigError that names its field, and a value
        longer than its entry's `max_chars` (MAX_VALUE_CHARS; MAX_EXPLICIT_CHARS for init_weights) is refused
        before it is parsed.
        """
        base = base or cls()
        sections: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "init": {}, "train": {}, "": {}}
        for key, raw in flat.items():
            if key not in FLAT_FIELDS:
                if strict:
                    raise ConfigError(f"unknown setting {quote(key)}; known settings: {', '.join(FLAT_FIELDS)}")
                continue
            limit = SETTINGS[key].max_chars
            if isinstance(raw, str) and len(raw) > limit:
                raise ConfigError(f"{key}: the value has {len(raw):,} characters; at most {limit:,} are accepted")
            section, attr = FLAT_FIELDS[key]
            template = getattr(getattr(base, section), attr) if section else getattr(base, attr)
            with _naming(key, raw):
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
        """Read a config written by `to_json`: missing fields take their defaults; unknown keys and wrong types fail.

        The schema is the dataclasses' own fields and types, so a key is
        refused by its dotted name (model.hidden) before any value is used.
        """
        raw = _load_json(text, "config JSON")
        if not isinstance(raw, dict):
            raise ConfigError(f"config JSON: expected an object with {', '.join(_field_types(cls))} (got {quote(raw)})")
        flat: dict[str, Any] = {}
        for key, value in _checked(cls, raw, ""):
            flat[key] = value
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


_FLAT_NAMES = {place: key for key, place in FLAT_FIELDS.items()}


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


_KINDS = {bool: "true or false", tuple: "widths like 8 or 8,8 (0 for none)", int: "a whole number",
          float: "a number", str: "text"}


def _parse(key: str, raw: Any, template: Any) -> Any:
    """Parse one flat value to the type of its field, with a message naming the field."""
    try:
        return _convert(key, raw, template)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{key}: expected {_KINDS[type(template)]} (got {quote(raw)})") from None


def _convert(key: str, raw: Any, template: Any) -> Any:
    if isinstance(template, tuple) and isinstance(raw, (list, tuple)):
        return _widths(raw)
    numeric = isinstance(template, (int, float)) and not isinstance(template, bool)
    if numeric and isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return _number(raw) if isinstance(template, float) else _to_int(key, raw)
    text = raw.strip() if isinstance(raw, str) else _format(raw)
    if isinstance(template, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(text)
    if isinstance(template, tuple):
        widths = tuple(int(p) for p in text.replace(" ", "").split(",") if p)
        return () if widths in ((), (0,)) else widths
    if isinstance(template, int):
        try:
            return int(text)
        except ValueError:
            return _to_int(key, float(text))
    if isinstance(template, float):
        return float(text)
    return text


def _number(value: int | float) -> int | float:
    """A float, except an integer too large for one stays exact: the field's range check then refuses it."""
    try:
        return float(value)
    except OverflowError:
        return value


def _to_int(key: str, value: int | float) -> int:
    """An int, or a ValueError for a fraction, NaN or infinity (the caller's message quotes the raw value)."""
    if isinstance(value, int):
        return value
    if not value.is_integer():
        raise ValueError(f"{key}: not a whole number")
    return int(value)


def _widths(values: Any) -> tuple[int, ...]:
    """Hidden widths as ints; truth values, text and fractions are refused (True is not a width of 1)."""
    widths = []
    for value in values:
        if isinstance(value, bool) or not (isinstance(value, int) or isinstance(value, float) and value.is_integer()):
            raise ConfigError(f"hidden: expected {_KINDS[tuple]} (got {quote(values)})")
        widths.append(int(value))
    return tuple(widths)


def _load_json(text: str, what: str) -> Any:
    """json.loads with every failure as a one-line ConfigError (bad syntax, deep nesting, endless digits)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{what}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise ConfigError(f"{what}: nested too deeply to be a setting") from None
    except ValueError:
        raise ConfigError(f"{what}: holds a number with thousands of digits; no setting takes one") from None


def _field_types(cls: type) -> dict[str, Any]:
    """A dataclass's fields and their types: the schema a JSON config must follow."""
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def _accepts(kind: Any, value: Any) -> bool:
    """Whether a JSON value has the type of a field (a float field takes a whole number, nothing takes a bool
    but a bool field)."""
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is int:
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind is float:
        return isinstance(value, (int, float))
    if kind is str:
        return isinstance(value, str)
    return isinstance(value, list) and all(_accepts(int, v) for v in value)  # tuple[int, ...]


_JSON_KIND = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}


def _checked(cls: type, raw: dict, prefix: str) -> Iterator[tuple[str, Any]]:
    """(flat key, value) for every field set in a JSON object of dataclass `cls`; unknown keys and types fail."""
    types = _field_types(cls)
    for name, value in raw.items():
        where = f"{prefix}{name}"
        if name not in types:
            raise ConfigError(f"config JSON: unknown key {quote(where)}; {prefix[:-1] or 'the top level'} "
                              f"takes {', '.join(types)}")
        kind = types[name]
        if is_dataclass(kind):
            if not isinstance(value, dict):
                raise ConfigError(f"config JSON: {where} must be an object with {', '.join(_field_types(kind))} "
                                  f"(got {quote(value)})")
            yield from _checked(kind, value, f"{where}.")
            continue
        if not _accepts(kind, value):
            expected = _JSON_KIND.get(kind, "a list of widths like [8, 8]")
            raise ConfigError(f"config JSON: {where} must be {expected} (got {quote(value)})")
        yield _FLAT_NAMES[prefix[:-1], name], value


def parse_explicit(text: str) -> list[dict[str, list]]:
    """Parse explicit parameters JSON: {"layers": [{"weight": [[..]], "bias": [..]}, ...]}.

    Any failure, however odd the text, is a ConfigError naming init_weights.
    """
    with _naming("init_weights", text):
        limit = SETTINGS["init_weights"].max_chars
        if len(text) > limit:
            raise ConfigError(f"init_weights: the value has {len(text):,} characters; at most {limit:,} are accepted")
        return _explicit_layers(_load_json(text, "init_weights"))


def _explicit_layers(raw: Any) -> list[dict[str, list]]:
    entry = SETTINGS["init_weights"]
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
        for value in [v for r in weight for v in r] + bias:
            finite = isinstance(value, int) or isinstance(value, float) and math.isfinite(value)
            if isinstance(value, bool) or not finite:
                raise ConfigError(f"init_weights: layer {i} holds {quote(value)}, which is not a finite number")
            if not entry.low <= value <= entry.high:
                raise ConfigError(f"init_weights: layer {i} holds {quote(value)}; starting weights {entry.refusal('')}")
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
        raise ConfigError(f"preset: unknown preset {quote(name)}; choose one of {', '.join(PRESETS)}")
    return Config.from_flat(PRESETS[name][1])


def parse_hide(text: str) -> tuple[frozenset[str], str]:
    """The sidebar controls a teacher's `hide` list removes, and a message on what it could not use ('' if none).

    The list holds settings' names, comma-separated (a field's name hides every control that sets it, so
    `hidden` hides both the layers and the width); a name that is unknown or cannot be hidden is reported, quoted.
    """
    if len(text) > MAX_VALUE_CHARS:
        return frozenset(), (f"{HIDE_KEY}: the value has {len(text):,} characters; at most {MAX_VALUE_CHARS:,} "
                             "are accepted")
    names = list(dict.fromkeys(n.strip().lower().replace("-", "_") for n in text.split(",") if n.strip()))
    allowed = settings.hideable()
    unknown = [n for n in names if n not in allowed]
    message = ""
    if unknown:
        more = f" and {len(unknown) - 1} more" if len(unknown) > 1 else ""
        whole = ", ".join(n for n in allowed if not SETTINGS[n].part_of)
        message = f"{HIDE_KEY}: cannot hide {quote(unknown[0])}{more}; hide any of {whole} (or a part such as width)"
    return settings.hidden_by(n for n in names if n in allowed), message
