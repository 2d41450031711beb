"""Hostile input to the config and the command line: a clear one-line refusal naming the field, never a crash."""

from __future__ import annotations

import contextlib
import importlib.machinery
import io
import json
import sys
import types
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symbreak.settings.explicit
import symbreak.settings.values
from symbreak.cli import main
from symbreak.export import csv_text, neutralise
from symbreak.settings.config import (
    FLAT_FIELDS,
    MAX_EXPLICIT_CHARS,
    MAX_EXPLICIT_WEIGHT,
    MAX_HIDDEN_LAYERS,
    MAX_INIT_PARAM,
    MAX_VALUE_CHARS,
    MAX_WIDTH,
    Config,
)
from symbreak.settings.explicit import explicit_json, parse_explicit
from symbreak.settings.registry import MAX_CLASSES, MAX_COLUMNS
from symbreak.settings.values import QUOTE_CHARS, ConfigError, quote

DEEP = "[" * 5000 + "]" * 5000
DIGITS_400 = "9" * 400
DIGITS_5000 = "9" * 5000


def explicit(value: str) -> str:
    """init_weights text for a 1-1 network whose one weight is written as `value`."""
    return '{"layers": [{"weight": [[%s]], "bias": [0]}]}' % value


def cli(args: list[str]) -> tuple[int, str, str]:
    """main() in-process, with its stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def refuse_constant(name: str) -> None:
    """json.loads hook: strict JSON has no NaN or Infinity."""
    raise AssertionError(f"the summary is not strict JSON: {name}")


def assert_one_line_refusal(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("symbreak: error: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


HOSTILE_INIT_WEIGHTS = {
    "deep nesting": (DEEP.encode(), "nested too deeply"),
    "400-digit integer": (explicit(DIGITS_400).encode(), "integer of 400 digits"),
    "5,000-digit integer": (explicit(DIGITS_5000).encode(), "thousands of digits"),
    "1e308 weight": (explicit("1e308").encode(), f"between {-MAX_EXPLICIT_WEIGHT:g} and {MAX_EXPLICIT_WEIGHT:g}"),
    "binary": (bytes(range(256)) * 4, "not UTF-8"),
    "UTF-16": (explicit("0.5").encode("utf-16"), "not UTF-8"),
    "Latin-1": ('{"layers": "caf\xe9"}'.encode("latin-1"), "not UTF-8"),
    "empty": (b"", "is empty"),
    "blank": (b" \n\t\n", "is empty"),
    "oversized": (b" " * (MAX_EXPLICIT_CHARS + 1), f"over {MAX_EXPLICIT_CHARS:,} bytes"),
}


@pytest.mark.parametrize("name", list(HOSTILE_INIT_WEIGHTS))
def test_hostile_init_weights_file_gets_exit_2_and_one_line(name: str, tmp_path: Path) -> None:
    content, needle = HOSTILE_INIT_WEIGHTS[name]
    path = tmp_path / "weights.json"
    path.write_bytes(content)
    code, out, err = cli(["run", "--hidden", "0", "--dataset", "sine", "--steps", "1", "--init-weights", str(path)])
    assert out == ""
    assert_one_line_refusal(code, err, "init_weights", needle)


HOSTILE_CONFIGS = {
    "deep nesting": (DEEP, "nested too deeply"),
    "deep nesting in a value": ('{"model": {"hidden": %s}}' % ("[" * 5000 + "]" * 5000), "nested too deeply"),
    "400-digit lr": ('{"train": {"lr": %s}}' % DIGITS_400, "lr: the learning rate must be"),
    "400-digit seed": ('{"seed": %s}' % DIGITS_400, "seed: must be between"),
    "5,000-digit seed": ('{"seed": %s}' % DIGITS_5000, "thousands of digits"),
    "NaN lr": ('{"train": {"lr": NaN}}', "lr: the learning rate must be"),
    "hidden [null]": ('{"model": {"hidden": [null]}}', "model.hidden must be a list of widths"),
    "hidden [[8]]": ('{"model": {"hidden": [[8]]}}', "model.hidden must be a list of widths"),
    'hidden ["8", "x"]': ('{"model": {"hidden": ["8", "x"]}}', "model.hidden must be a list of widths"),
    "hidden [true, 8]": ('{"model": {"hidden": [true, 8]}}', "model.hidden must be a list of widths"),
    "hidden 2.5": ('{"model": {"hidden": [2.5]}}', "model.hidden must be a list of widths"),
    "unknown top-level key": ('{"colour": "red"}', "unknown key 'colour'"),
    "unknown section key": ('{"train": {"lr": 0.5, "momentum": 0.9}}', "unknown key 'train.momentum'"),
    "model a list": ('{"model": [1, 2]}', "model must be an object"),
    "train null": ('{"train": null}', "train must be an object"),
    "top level a list": ("[1, 2]", "expected an object"),
    "lr as text": ('{"train": {"lr": "0.5"}}', "train.lr must be a number"),
    "standardize as 1": ('{"data": {"standardize": 1}}', "data.standardize must be true or false"),
    "seed as true": ('{"seed": true}', "seed must be a whole number"),
    "markup in a value": ('{"train": {"optimizer": "[log in](https://example.com)\\n![x](http://x)"}}',
                          "optimizer: '[log in](https://example.com)\\n![x](http://x)' is not one of"),
    "NUL in the data path": ('{"data": {"dataset": "csv", "path": "a\\u0000b"}}', "path: a file name cannot"),
    "init constant:1e308": ('{"init": {"weight": "constant:1e308"}}',
                            f"init: parameter of 'constant' must be between {-MAX_INIT_PARAM:g}"),
    "not JSON": ("{not json", "not valid JSON"),
}


@pytest.mark.parametrize("name", list(HOSTILE_CONFIGS))
def test_hostile_config_file_gets_exit_2_and_one_line_naming_the_key(name: str, tmp_path: Path) -> None:
    text, needle = HOSTILE_CONFIGS[name]
    path = tmp_path / "config.json"
    path.write_text(text)
    code, out, err = cli(["run", "--config", str(path), "--steps", "1"])
    assert out == ""
    assert_one_line_refusal(code, err, needle)


@pytest.mark.parametrize("content", [b"", bytes(range(256)), '{"seed": 1}'.encode("utf-16")])
def test_empty_binary_and_utf16_config_files_are_refused(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(content)
    assert_one_line_refusal(*cli(["run", "--config", str(path)])[::2], "config:")


def test_a_saved_config_still_loads_through_the_strict_schema(tmp_path: Path) -> None:
    saved = Config.from_flat({"hidden": "5,3", "lr": "0.25", "standardize": "1", "init_weights": ""}, base=None)
    assert Config.from_json(saved.to_json()) == saved
    assert Config.from_json('{"seed": 3.0, "train": {"lr": 1}}') == Config.from_flat({"seed": "3", "lr": "1"})


@pytest.mark.parametrize("flat, message", [
    ({"init": "constant:1e308"}, "init: parameter of 'constant' must be between -100 and 100"),
    ({"init": "normal:1e300"}, "init: parameter of 'normal' must be between -100 and 100"),
    ({"bias_init": "uniform:101"}, "bias_init: parameter of 'uniform' must be between -100 and 100"),
    ({"lr": "1e-7"}, "lr: the learning rate must be above 0 (at least 1e-06)"),
    ({"init_weights": explicit("1e308")}, "starting weights must be between -10000 and 10000"),
    ({"init_weights": explicit("true")}, "holds True, which is not a finite number"),
    ({"init_weights": explicit("Infinity")}, "holds inf, which is not a finite number"),
    ({"seed": 10**400}, "seed: must be between 0 and 2147483647 (got <integer of 401 digits>)"),
    ({"seed": 10**5000}, "seed: must be between 0 and 2147483647 (got <integer of about 5001 digits>)"),
    ({"lr": 10**400}, "lr: the learning rate must be above 0"),
    ({"hidden": [True, 8]}, "hidden: expected widths"),
    ({"hidden": [None]}, "hidden: expected widths"),
    ({"dataset": "coffee" + " " * MAX_VALUE_CHARS}, f"dataset: the value has {MAX_VALUE_CHARS + 6:,} characters"),
    ({"init_weights": explicit("0.5") + " " * MAX_EXPLICIT_CHARS}, "init_weights: the value has"),
])
def test_bounds_and_odd_values_are_refused_by_name(flat: dict, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Config.from_flat(flat)
    assert message in str(refused.value)


def test_the_largest_valid_network_fits_the_init_weights_limit() -> None:
    sizes = [MAX_COLUMNS, *[MAX_WIDTH] * MAX_HIDDEN_LAYERS, MAX_CLASSES]
    longest = -2.2250738585072014e-308  # the longest float repr there is
    layers = [{"weight": [[longest] * fan_in for _ in range(fan_out)], "bias": [longest] * fan_out}
              for fan_in, fan_out in zip(sizes, sizes[1:])]
    compact = explicit_json([(layer["weight"], layer["bias"]) for layer in layers])
    spaced = json.dumps({"layers": layers})
    assert len(compact) < len(spaced) <= MAX_EXPLICIT_CHARS
    assert len(parse_explicit(spaced)) == MAX_HIDDEN_LAYERS + 1
    hidden = ",".join([str(MAX_WIDTH)] * MAX_HIDDEN_LAYERS)
    assert Config.from_flat({"hidden": hidden, "init_weights": spaced}).init.explicit == spaced


@pytest.mark.parametrize("value", [
    "x" * 500, "line one\nline two\r\n", 10**5000, [[[[[[[1]]]]]]], {"k": "v" * 200}, "[a](http://x)",
    float("nan"), list(range(1000)),
], ids=lambda value: type(value).__name__)
def test_quote_is_short_one_line_and_repr_like(value: object) -> None:
    text = quote(value)
    assert len(text) <= QUOTE_CHARS and "\n" not in text and "\r" not in text
    if isinstance(value, str) and len(value) < QUOTE_CHARS:
        assert text == repr(value)


def test_quote_marks_a_cut_with_an_ellipsis() -> None:
    assert quote("a" * 100).endswith("…") and quote("short") == "'short'"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**400, max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40)
    | st.sampled_from(["<script>alert(1)</script>", "[x](http://e.com)", "![i](http://e.com/i.png)", "**b**",
                       "=cmd|' /C calc'!A0", "constant:1e308", "8,8", "-1", "1e400", "normal:0.1", "zeros"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(list(FLAT_FIELDS)), value=JSON_VALUES)
def test_from_flat_raises_only_config_errors_that_name_the_field(key: str, value: object) -> None:
    try:
        Config.from_flat({key: value})
    except ConfigError as exc:
        message = str(exc)
        assert message.split(":")[0] == key, message
        assert "\n" not in message


SECTION_KEYS = {name: st.sampled_from([f for f in FLAT_FIELDS if FLAT_FIELDS[f][0] == name]) for name in
                ("data", "model", "train")}
SECTION_KEYS["init"] = st.sampled_from(["weight", "bias", "perturb", "explicit"])


def _config_object() -> st.SearchStrategy[dict]:
    """JSON objects shaped like a saved config: known and unknown keys, sections of any type, any values."""
    section = st.dictionaries(st.one_of(*SECTION_KEYS.values(), st.text(max_size=8)), JSON_VALUES, max_size=4)
    top_keys = st.sampled_from(["data", "model", "init", "train", "seed", "tol"]) | st.text(max_size=8)
    return st.dictionaries(top_keys, section | JSON_VALUES, max_size=5)


@st.composite
def _mutated_config(draw: st.DrawFn) -> dict:
    """A saved default config with one value replaced by anything: reaches the checks behind the schema."""
    document = json.loads(Config().to_json())
    section = draw(st.sampled_from(["data", "model", "init", "train"]))
    key = draw(SECTION_KEYS[section])
    document[section][key] = draw(JSON_VALUES)
    return document


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=_config_object() | _mutated_config() | JSON_VALUES)
def test_fuzzed_config_files_exit_0_or_2_and_never_raise(document: object, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "config.json"
    path.write_text(json.dumps(document))
    code, out, err = cli(["run", "--config", str(path), "--steps", "1"])
    if code == 0:
        assert err == "" and isinstance(json.loads(out, parse_constant=refuse_constant), dict)
    else:
        assert_one_line_refusal(code, err)


def test_csv_text_neutralises_formula_text_but_keeps_numbers() -> None:
    frame = pd.DataFrame({
        "=HYPERLINK(\"http://x\")": [-0.25, 1.5, 2.0, 0.0],
        "source": ["-0.5", "@SUM(A1)", "+1e-3", "\tx"],
        "note": ["-x", "plain", "=1+1", "-.5"],
        "count": [-1, 2, 3, -4],
    })
    written = pd.read_csv(io.StringIO(csv_text(frame)), dtype={"source": str, "note": str})
    assert list(written.columns) == ["'=HYPERLINK(\"http://x\")", "source", "note", "count"]
    assert written.iloc[:, 0].tolist() == [-0.25, 1.5, 2.0, 0.0] and written["count"].tolist() == [-1, 2, 3, -4]
    assert written["source"].tolist() == ["-0.5", "'@SUM(A1)", "+1e-3", "'\tx"]
    assert written["note"].tolist() == ["'-x", "plain", "'=1+1", "-.5"]
    assert neutralise("\r=1") == "'\r=1" and neutralise(-0.25) == -0.25 and neutralise("-1e5") == "-1e5"


def test_csv_text_of_a_clean_frame_is_pandas_csv() -> None:
    frame = pd.DataFrame({"step": [0, 1], "value": [-0.125, 3e-9], "source": ["x1", "bias"]})
    assert csv_text(frame) == frame.to_csv(index=False)


def test_serve_subcommand_is_wired_when_its_module_exists(monkeypatch) -> None:
    seen = {}

    def add_parser(commands) -> None:
        commands.add_parser("serve").add_argument("--port", type=int)

    def serve_main(args) -> int:
        seen["port"] = args.port
        return 0

    serve = types.ModuleType("symbreak.serving.serve")
    serve.__spec__ = importlib.machinery.ModuleSpec("symbreak.serving.serve", None)
    serve.add_parser, serve.main = add_parser, serve_main
    monkeypatch.setitem(sys.modules, "symbreak.serving.serve", serve)
    assert cli(["serve", "--port", "8601"])[0] == 0 and seen == {"port": 8601}


def test_without_the_serve_module_there_is_no_serve_subcommand(monkeypatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(SystemExit) as exc, contextlib.redirect_stderr(io.StringIO()) as err:
        main(["serve"])
    assert exc.value.code == 2 and "invalid choice: 'serve'" in err.getvalue()


def test_any_unexpected_failure_in_parsing_becomes_a_config_error_naming_the_field(monkeypatch) -> None:
    def broken(*args: object) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr(symbreak.settings.explicit, "_explicit_layers", broken)
    with pytest.raises(ConfigError, match=r"^init_weights: cannot use .*KeyError"):
        parse_explicit(explicit("0.5"))
    monkeypatch.setattr(symbreak.settings.values, "_convert", broken)
    with pytest.raises(ConfigError, match=r"^lr: cannot use '0\.5' \(KeyError"):
        Config.from_flat({"lr": "0.5"})
