"""Explicit starting parameters as JSON: {"layers": [{"weight": [[..]], "bias": [..]}, ...]}."""

from __future__ import annotations

import json
import math
from typing import Any

from symbreak.settings.registry import SETTINGS
from symbreak.settings.values import ConfigError, load_json, naming, quote


def parse_explicit(text: str) -> list[dict[str, list]]:
    """Parse explicit parameters JSON: {"layers": [{"weight": [[..]], "bias": [..]}, ...]}.

    Any failure, however odd the text, is a ConfigError naming init_weights.
    """
    with naming("init_weights", text):
        limit = SETTINGS["init_weights"].max_chars
        if len(text) > limit:
            raise ConfigError(f"init_weights: the value has {len(text):,} characters; at most {limit:,} are accepted")
        return _explicit_layers(load_json(text, "init_weights"))


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
