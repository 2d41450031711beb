"""A user's value read and checked: ConfigError, quote(), and the parsers every setting's text goes through.

A value comes as text (a URL, a flag, a form) or as JSON; it is parsed to its field's type (a number, a
truth value, hidden widths, an init scheme), and any failure is a one-line ConfigError that names the
field and quotes, cut short, what it was given.
"""

from __future__ import annotations

import json
import math
import reprlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from symbreak.settings.registry import SCHEMES_WITH_PARAM, SETTINGS

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
def naming(name: str, value: Any) -> Iterator[None]:
    """Turn any exception but a ConfigError into a ConfigError that names the field and quotes the value."""
    try:
        yield
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"{name}: cannot use {quote(value)} ({_reason(exc)})") from None


def parse_scheme(text: str, field_name: str = "init") -> tuple[str, float | None]:
    """Split 'SCHEME[:PARAM]' into its name and parameter, validating both."""
    with naming(field_name, text):
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


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value) if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)


_KINDS = {bool: "true or false", tuple: "widths like 8 or 8,8 (0 for none)", int: "a whole number",
          float: "a number", str: "text"}


def parse_value(key: str, raw: Any, template: Any) -> Any:
    """Parse one flat value to the type of its field, with a message naming the field."""
    try:
        return _convert(key, raw, template)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{key}: expected {_KINDS[type(template)]} (got {quote(raw)})") from None


def _convert(key: str, raw: Any, template: Any) -> Any:
    if isinstance(template, tuple) and isinstance(raw, (list, tuple)):
        return parse_widths(raw)
    numeric = isinstance(template, (int, float)) and not isinstance(template, bool)
    if numeric and isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return _number(raw) if isinstance(template, float) else _to_int(key, raw)
    text = raw.strip() if isinstance(raw, str) else format_value(raw)
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


def parse_widths(values: Any) -> tuple[int, ...]:
    """Hidden widths as ints; truth values, text and fractions are refused (True is not a width of 1)."""
    widths = []
    for value in values:
        if isinstance(value, bool) or not (isinstance(value, int) or isinstance(value, float) and value.is_integer()):
            raise ConfigError(f"hidden: expected {_KINDS[tuple]} (got {quote(values)})")
        widths.append(int(value))
    return tuple(widths)


def load_json(text: str, what: str) -> Any:
    """json.loads with every failure as a one-line ConfigError (bad syntax, deep nesting, endless digits)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{what}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise ConfigError(f"{what}: nested too deeply to be a setting") from None
    except ValueError:
        raise ConfigError(f"{what}: holds a number with thousands of digits; no setting takes one") from None
