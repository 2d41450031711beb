"""Explicit starting parameters, and weight masks, as JSON: {"layers": [{"weight": [[..]], "bias": [..]}, ...]}.

A mask has the starting parameters' format with 1 to keep a weight and 0 to prune it (its bias entries are 0
or 1 too, and ignored: biases are never pruned).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from symbreak.settings.registry import SETTINGS
from symbreak.settings.values import ConfigError, load_json, naming, quote

MASK_VALUES = (0, 1)


def parse_explicit(text: str) -> list[dict[str, list]]:
    """Parse explicit parameters JSON: {"layers": [{"weight": [[..]], "bias": [..]}, ...]}.

    Any failure, however odd the text, is a ConfigError naming init_weights.
    """
    with naming("init_weights", text):
        return _explicit_layers(_loaded(text, "init_weights"))


def _loaded(text: str, name: str) -> Any:
    """The JSON of a setting's value, refused unread when longer than the setting's limit."""
    limit = SETTINGS[name].max_chars
    if len(text) > limit:
        raise ConfigError(f"{name}: the value has {len(text):,} characters; at most {limit:,} are accepted")
    return load_json(text, name)


def _layered(raw: Any, name: str) -> list[dict[str, list]]:
    """The layers of the format, each a non-empty rectangular weight matrix and one bias value per row."""
    layers = raw.get("layers") if isinstance(raw, dict) else None
    if not isinstance(layers, list) or not layers:
        raise ConfigError(f'{name}: expected {{"layers": [{{"weight": [[...]], "bias": [...]}}, ...]}}')
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or "weight" not in layer or "bias" not in layer:
            raise ConfigError(f"{name}: layer {i} needs a 'weight' matrix and a 'bias' list")
        weight, bias = layer["weight"], layer["bias"]
        if not (isinstance(weight, list) and weight and all(isinstance(r, list) and r for r in weight)):
            raise ConfigError(f"{name}: layer {i} 'weight' must be a non-empty list of rows")
        if len({len(r) for r in weight}) != 1:
            raise ConfigError(f"{name}: layer {i} 'weight' rows have different lengths")
        if not isinstance(bias, list) or len(bias) != len(weight):
            raise ConfigError(f"{name}: layer {i} 'bias' must have one value per row of 'weight' ({len(weight)})")
    return layers


def _values(layer: dict[str, list]) -> list[Any]:
    """A layer's weights row by row, then its biases: the order of the flat parameter vector."""
    return [v for r in layer["weight"] for v in r] + layer["bias"]


def _explicit_layers(raw: Any) -> list[dict[str, list]]:
    entry = SETTINGS["init_weights"]
    layers = _layered(raw, "init_weights")
    for i, layer in enumerate(layers):
        for value in _values(layer):
            finite = isinstance(value, int) or isinstance(value, float) and math.isfinite(value)
            if isinstance(value, bool) or not finite:
                raise ConfigError(f"init_weights: layer {i} holds {quote(value)}, which is not a finite number")
            if not entry.low <= value <= entry.high:
                raise ConfigError(f"init_weights: layer {i} holds {quote(value)}; starting weights {entry.refusal('')}")
    return layers


def parse_mask(text: str) -> list[dict[str, list]]:
    """Parse a weight mask: the format of `parse_explicit` holding only 1 (keep) and 0 (prune).

    Any failure, however odd the text, is a ConfigError naming mask.
    """
    with naming("mask", text):
        layers = _layered(_loaded(text, "mask"), "mask")
        for i, layer in enumerate(layers):
            for value in _values(layer):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in MASK_VALUES:
                    raise ConfigError(f"mask: layer {i} holds {quote(value)}; a mask holds 1 (keep) or 0 (prune)")
        return layers


def _shapes(shapes: Sequence[tuple[int, int]]) -> str:
    return " ".join(f"[{o}×{i}]" for o, i in shapes)


def mask_values(text: str, shapes: Sequence[tuple[int, int]]) -> list[float]:
    """A mask's values in the flat parameter order (each layer's weights row by row, then its biases), once its
    layers are found to have the network's weight shapes (out, in), first layer first."""
    layers = parse_mask(text)
    given = [(len(layer["weight"]), len(layer["weight"][0])) for layer in layers]
    if given != list(shapes):
        raise ConfigError(f"mask: the network's weights are {_shapes(shapes)} (out × in), but the mask gives "
                          f"{_shapes(given)}: it was made for another network (clear it, or change the network)")
    return [float(v) for layer in layers for v in _values(layer)]


def explicit_json(layers: list[tuple[list[list[float]], list[float]]]) -> str:
    """Compact JSON for explicit parameters (or a mask), given (weight rows, bias) per layer."""
    return json.dumps({"layers": [{"weight": w, "bias": b} for w, b in layers]}, separators=(",", ":"))
