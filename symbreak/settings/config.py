"""One frozen configuration tree for a run: data, model, init, training, seed.

Every field is validated against its settings entry with a message that names the field and what it
accepts. A config round-trips through a flat dict of strings (the app keeps it in the URL) and through JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import Any, get_type_hints

from symbreak.settings import registry
from symbreak.settings.explicit import parse_explicit, parse_mask
from symbreak.settings.registry import (  # noqa: F401  (the bounds and choices are part of config's interface)
    ACTIVATIONS,
    ARITHMETIC,
    BUILTIN_DATASETS,
    CHOICE,
    DTYPES,
    FILE,
    HIDE_KEY,
    INIT_SCHEMES,
    INT,
    MASK,
    MAX_CLASSES,
    MAX_COLUMNS,
    MAX_DROPOUT,
    MAX_EXPLICIT_CHARS,
    MAX_EXPLICIT_WEIGHT,
    MAX_HIDDEN_LAYERS,
    MAX_INIT_PARAM,
    MAX_LR,
    MAX_MASK_CHARS,
    MAX_NOISE,
    MAX_PERTURB,
    MAX_ROWS,
    MAX_SEED,
    MAX_STEPS,
    MAX_TEST_FRACTION,
    MAX_TOL,
    MAX_VALUE_CHARS,
    MAX_WEIGHT_DECAY,
    MAX_WIDTH,
    MIN_LR,
    MIN_SAMPLES,
    NUMBER,
    OPTIMIZERS,
    SCHEME,
    SCHEMES_WITH_PARAM,
    SETTINGS,
    TASK_CHOICES,
    WEIGHTS,
    WIDTHS,
)
from symbreak.settings.values import (
    ConfigError,
    format_value,
    load_json,
    naming,
    parse_scheme,
    parse_value,
    parse_widths,
    quote,
)


def _validate(section: Any, name: str) -> None:
    """Check every field of a config section against its registry entry (its range, choices or form).

    `name` is the section's name in FLAT_FIELDS ('' for the top level); widths are normalised in place.
    """
    for key, attr in [(key, attr) for key, (part, attr) in FLAT_FIELDS.items() if part == name]:
        entry, value = SETTINGS[key], getattr(section, attr)
        with naming(key, value):
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
            if entry.kind == MASK and value:
                parse_mask(value)


def _checked_widths(key: str, value: Any) -> tuple[int, ...]:
    """Hidden widths as a tuple of ints within the entry's count and bounds."""
    entry, widths = SETTINGS[key], parse_widths(value)
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
    """How the starting parameters are drawn, or given explicitly as JSON; and the weights a mask prunes (JSON in
    the same format, 1 keeps and 0 prunes: held at 0.0 from the start, never updated; empty: none)."""

    weight: str = "constant:0.5"
    bias: str = "zeros"
    perturb: float = 0.0
    explicit: str = ""
    mask: str = ""

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
            out[key] = format_value(value)
        return out

    @classmethod
    def from_flat(cls, flat: dict[str, Any], base: Config | None = None, strict: bool = True) -> Config:
        """Build a config from flat string values over `base`; unknown keys fail when strict.

        Any failure in reading or validating a value is a ConfigError that names its field, and a value
        longer than its entry's `max_chars` (MAX_VALUE_CHARS; more for init_weights and mask) is refused
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
            with naming(key, raw):
                sections[section][attr] = parse_value(key, raw, template)
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
        raw = load_json(text, "config JSON")
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
    "mask": ("init", "mask"),
    **{f.name: ("train", f.name) for f in fields(TrainConfig)},
    "seed": ("", "seed"),
    "tol": ("", "tol"),
}


_FLAT_NAMES = {place: key for key, place in FLAT_FIELDS.items()}


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


def parse_hide(text: str) -> tuple[frozenset[str], str]:
    """The sidebar controls a teacher's `hide` list removes, and a message on what it could not use ('' if none).

    The list holds settings' names, comma-separated (a field's name hides every control that sets it, so
    `hidden` hides both the layers and the width); a name that is unknown or cannot be hidden is reported, quoted.
    """
    if len(text) > MAX_VALUE_CHARS:
        return frozenset(), (f"{HIDE_KEY}: the value has {len(text):,} characters; at most {MAX_VALUE_CHARS:,} "
                             "are accepted")
    names = list(dict.fromkeys(n.strip().lower().replace("-", "_") for n in text.split(",") if n.strip()))
    allowed = registry.hideable()
    unknown = [n for n in names if n not in allowed]
    message = ""
    if unknown:
        more = f" and {len(unknown) - 1} more" if len(unknown) > 1 else ""
        whole = ", ".join(n for n in allowed if not SETTINGS[n].part_of)
        message = f"{HIDE_KEY}: cannot hide {quote(unknown[0])}{more}; hide any of {whole} (or a part such as width)"
    return registry.hidden_by(n for n in names if n in allowed), message
