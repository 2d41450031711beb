"""The settings registry: validation, the command line's flags and the sidebar's widgets agree with every entry,
and a teacher's `?hide=` list removes controls and stays in the URL.

Each check walks the registry, so a new entry is covered by adding it; the sidebar is read from the running
page (AppTest), never from the registry it was built from.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import typing
from dataclasses import fields as dataclass_fields
from pathlib import Path

import pytest
from streamlit.proto.NumberInput_pb2 import NumberInput as NumberInputProto
from streamlit.proto.Slider_pb2 import Slider as SliderProto
from streamlit.testing.v1 import AppTest

from symbreak.cli import build_parser, config_from_args, main
from symbreak.settings import registry
from symbreak.settings.config import FLAT_FIELDS, Config, parse_hide
from symbreak.settings.explicit import explicit_json
from symbreak.settings.presets import PRESETS
from symbreak.settings.registry import SETTINGS, Setting, bound_text
from symbreak.settings.values import ConfigError

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 60
# The Playground's sidebar sections that draw their controls only when open.
SECTIONS = ("playground.x.data", "playground.x.arithmetic", "playground.x.tables", "playground.x.mask")
FIELDS = registry.fields()
RANGED = [s for s in SETTINGS.values() if s.kind in (registry.NUMBER, registry.INT)]
# The Python type each kind of config field holds.
FIELD_TYPES = {registry.NUMBER: float, registry.INT: int, registry.BOOL: bool, registry.WIDTHS: tuple[int, ...]}


def key(entry: Setting) -> str:
    return entry.key


def outside(entry: Setting) -> tuple[float, float]:
    """The nearest values just below and just above an entry's range."""
    if isinstance(entry.low, int) and isinstance(entry.high, int):
        return entry.low - 1, entry.high + 1
    return math.nextafter(entry.low, -math.inf), math.nextafter(entry.high, math.inf)


def flat_for(entry: Setting, value: float) -> dict[str, object] | None:
    """The flat config change that gives a ranged entry this value (a control that is part of a field sets the
    field: a number of layers, one layer's width, a scheme's parameter); None for a count of layers below 0."""
    if entry.key == "layers":
        return {"hidden": [8] * int(value)} if value >= 0 else None
    if entry.key == "width":
        return {"hidden": [int(value)]}
    if entry.part_of in ("init", "bias_init"):
        return {entry.part_of: f"constant:{float(value)!r}"}
    return {entry.key: value}


def expect_refused(flat: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_flat(flat)
    assert str(caught.value).startswith(f"{key}:"), str(caught.value)


def one_layer(weight: float) -> str:
    return explicit_json([([[weight, 0.0]], [0.0])])


# ------------------------------------------------------------------ the registry and the config
def test_every_config_field_has_one_entry_of_its_type() -> None:
    assert sorted(s.key for s in FIELDS) == sorted(FLAT_FIELDS)
    for entry in FIELDS:
        section, attr = FLAT_FIELDS[entry.key]
        owner = typing.get_type_hints(Config)[section] if section else Config
        kind = typing.get_type_hints(owner)[attr]
        assert kind == FIELD_TYPES.get(entry.kind, str), entry.key
        assert attr in {f.name for f in dataclass_fields(owner)}
    for entry in SETTINGS.values():
        assert entry.label and entry.help, entry.key
        assert entry.part_of in ("", *FLAT_FIELDS), entry.key
        assert entry.field is None or entry.field in FLAT_FIELDS


@pytest.mark.parametrize("entry", RANGED, ids=key)
def test_validation_accepts_the_bounds_and_refuses_just_outside(entry: Setting) -> None:
    for value in (entry.low, entry.high):
        Config.from_flat(flat_for(entry, value))
    for flat in filter(None, (flat_for(entry, value) for value in outside(entry))):
        expect_refused(flat, entry.field)


@pytest.mark.parametrize("entry", [s for s in SETTINGS.values() if s.choices], ids=key)
def test_validation_accepts_every_choice_and_nothing_else(entry: Setting) -> None:
    for choice in entry.choices:
        assert Config.from_flat({entry.field: choice}).to_flat()[entry.field] == choice
    expect_refused({entry.field: "not-a-choice"}, entry.field)


@pytest.mark.parametrize("entry", [s for s in FIELDS if s.kind in (registry.SCHEME, registry.WEIGHTS)], ids=key)
def test_a_starting_value_is_accepted_at_its_bounds_and_refused_past_them(entry: Setting) -> None:
    text = (lambda v: f"constant:{v!r}") if entry.kind == registry.SCHEME else one_layer
    for value in (entry.low, entry.high):
        Config.from_flat({entry.key: text(value)})
    for value in outside(entry):
        expect_refused({entry.key: text(value)}, entry.key)


def test_widths_are_bounded_in_count_and_size() -> None:
    entry = SETTINGS["hidden"]
    assert Config.from_flat({"hidden": [entry.high] * entry.items}).model.hidden == (entry.high,) * entry.items
    Config.from_flat({"hidden": [entry.low]})
    expect_refused({"hidden": [entry.low] * (entry.items + 1)}, "hidden")
    for width in outside(entry):
        expect_refused({"hidden": [width]}, "hidden")
    assert (SETTINGS["layers"].high, SETTINGS["width"].high, SETTINGS["width"].low) == (entry.items, entry.high,
                                                                                         entry.low)


@pytest.mark.parametrize("entry", FIELDS, ids=key)
def test_a_value_longer_than_its_entry_allows_is_refused_unread(entry: Setting) -> None:
    if entry.kind in (registry.TEXT, registry.FILE):
        assert Config.from_flat({entry.key: "a" * entry.max_chars}).to_flat()[entry.key] == "a" * entry.max_chars
    with pytest.raises(ConfigError, match=f"^{entry.key}: the value has {entry.max_chars + 1:,} characters"):
        Config.from_flat({entry.key: " " * (entry.max_chars + 1)})


def test_a_bool_field_reads_true_and_false_only() -> None:
    for entry in (s for s in FIELDS if s.kind == registry.BOOL):
        assert Config.from_flat({entry.key: "1"}).to_flat()[entry.key] == "1"
        expect_refused({entry.key: "maybe"}, entry.key)


# ------------------------------------------------------------------ the command line
def run_flags() -> dict[str, argparse.Action]:
    """The `run` subcommand's flags, by option string."""
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices["run"]._option_string_actions


@pytest.mark.parametrize("entry", [s for s in SETTINGS.values() if s.option], ids=key)
def test_every_entry_has_a_flag_of_its_type_whose_help_states_the_range(entry: Setting) -> None:
    flag = run_flags()[entry.option]
    assert flag.dest == entry.key and flag.help
    if entry.kind == registry.BOOL:
        assert flag.nargs == 0 and flag.const is True
    elif entry.kind == registry.PRESET:
        assert list(flag.choices) == list(PRESETS)
    elif entry.kind == registry.CHOICE:
        assert tuple(flag.choices) == entry.choices
    else:
        assert (flag.type or str) is {registry.NUMBER: float, registry.INT: int}.get(entry.kind, str)
    if entry.low is not None:
        help_text = " ".join(flag.help.split())
        assert entry.span() in help_text and bound_text(entry.high) in help_text, help_text


def test_only_sidebar_parts_have_no_flag() -> None:
    assert {s.key for s in SETTINGS.values() if not s.option} == {s.key for s in SETTINGS.values() if s.part_of}


@pytest.mark.parametrize("entry", [s for s in FIELDS if s.kind in (registry.NUMBER, registry.INT)], ids=key)
def test_a_flag_takes_its_bounds_and_exits_2_naming_the_field_just_outside(entry: Setting, capsys) -> None:
    for value in (entry.low, entry.high):
        args = build_parser().parse_args(["run", f"{entry.option}={value!r}"])
        assert config_from_args(args).to_flat()[entry.key] == Config.from_flat({entry.key: value}).to_flat()[entry.key]
    for value in outside(entry):
        assert main(["run", "--steps", "0", f"{entry.option}={value!r}"]) == 2
        assert capsys.readouterr().err.startswith(f"symbreak: error: {entry.key}:")


# ------------------------------------------------------------------ hide lists
def test_a_hide_list_names_controls_and_fields() -> None:
    assert parse_hide("dropout,optimizer") == (frozenset({"dropout", "optimizer"}), "")
    assert parse_hide(" Hidden , init ,,")[0] == {"layers", "width", "init_scheme", "init_param"}
    assert parse_hide("batch-size")[0] == {"batch_size"}
    for entry in SETTINGS.values():
        hidden, message = parse_hide(entry.key)
        assert (message == "") == entry.hideable, entry.key
        if entry.hideable:
            assert hidden and all(SETTINGS[k].widget for k in hidden), entry.key


def test_an_unknown_hide_name_gets_a_short_quoted_message() -> None:
    hidden, message = parse_hide("dropout,[log in](https://example.com)," + "x" * 500 + ",steps")
    assert hidden == {"dropout"}
    assert message.startswith("hide: cannot hide '[log in](https://example.com)' and 2 more; hide any of preset,")
    assert "x" * 100 not in message and "\n" not in message and len(message) < 400
    assert "steps" not in message.split("hide any of")[1].split(", ")
    too_long = "dropout," * 1000
    assert parse_hide(too_long) == (frozenset(), f"hide: the value has {len(too_long):,} characters; at most "
                                                 f"{registry.MAX_VALUE_CHARS:,} are accepted")


def test_every_field_at_its_upper_bound_round_trips() -> None:
    """Every field survives the flat and JSON round trips at its registry bounds (a bound that no form can hold
    would be a registry error)."""
    flat = {s.key: s.high for s in FIELDS if s.kind in (registry.NUMBER, registry.INT)}
    config = Config.from_flat(flat)
    assert Config.from_flat(config.to_flat()) == config
    assert Config.from_json(config.to_json()) == config
    assert json.loads(config.to_json())["train"]["lr"] == SETTINGS["lr"].high


# ------------------------------------------------------------------ the sidebar (AppTest)
def open_sidebar(**params: str) -> AppTest:
    """A Playground session with these URL parameters and every sidebar section open."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.run()
    for section in SECTIONS:
        at.session_state[section] = True
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def widgets(at: AppTest) -> dict[str, object]:
    """Every sidebar control of the Playground by its setting's key."""
    found = (*at.sidebar.slider, *at.sidebar.number_input, *at.sidebar.selectbox, *at.sidebar.radio,
             *at.sidebar.checkbox, *at.sidebar.text_input, *at.sidebar.text_area)
    prefix = "playground.w."
    return {w.key[len(prefix):]: w for w in found if w.key and w.key.startswith(prefix)}


def upload_csv(at: AppTest) -> None:
    rows = "\n".join(f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(60))
    at.sidebar.file_uploader[0].upload("up.csv", f"a,b,label\n{rows}\n".encode(), "text/csv").run()
    assert not at.exception and at.session_state["playground.config"].data.dataset == "csv"


@pytest.fixture(scope="module")
def sidebar() -> dict[str, object]:
    """The sidebar's controls, from a built-in set and from an uploaded CSV (each shows controls of its own), with
    a bias scheme that takes a value."""
    at = open_sidebar(bias_init="constant:0.0")
    drawn = widgets(at)
    uploader = at.sidebar.file_uploader[0]
    upload_csv(at)
    return {**drawn, **widgets(at), "path": uploader}


INT_DATA, FLOAT_DATA = NumberInputProto.DataType.INT, NumberInputProto.DataType.FLOAT
assert (INT_DATA, FLOAT_DATA) == (SliderProto.DataType.INT, SliderProto.DataType.FLOAT)
CONTROLS = [s for s in registry.controls() if s.widget != registry.TABLE]


@pytest.mark.parametrize("entry", CONTROLS, ids=key)
def test_the_sidebar_draws_each_control_as_its_entry_says(entry: Setting, sidebar: dict) -> None:
    widget = sidebar[entry.key]
    assert (widget.label, widget.help) == (entry.label, entry.help)
    if entry.widget in (registry.SLIDER, registry.NUMBER_INPUT):
        assert (widget.min, widget.max, widget.step) == (entry.low, entry.high, entry.step)
        assert widget.proto.data_type == (INT_DATA if entry.kind == registry.INT else FLOAT_DATA)
        assert type(widget.value) is type(entry.low)
    if entry.format:
        assert widget.proto.format == entry.format
    if entry.widget == registry.SELECT and entry.kind == registry.PRESET:
        assert list(widget.options)[:len(PRESETS)] == list(PRESETS)
    elif entry.key == "dataset":  # the page names the uploaded file after "csv"
        assert list(widget.options) == [*entry.choices[:-1], f"{registry.CSV_DATASET}: up.csv"]
    elif entry.widget in (registry.SELECT, registry.RADIO):
        assert list(widget.options) == [entry.show(c) for c in entry.choices]
    if entry.widget in (registry.TEXT_INPUT, registry.TEXT_AREA):
        assert widget.max_chars == entry.max_chars
    if entry.widget == registry.UPLOAD:
        assert widget.proto.max_upload_size_mb == registry.MAX_UPLOAD_MB


def test_every_control_has_a_widget_and_no_widget_lacks_an_entry(sidebar: dict) -> None:
    assert set(sidebar) == {s.key for s in CONTROLS}


def test_a_hide_list_removes_those_controls_and_stays_in_the_url() -> None:
    at = open_sidebar(hide="dropout,optimizer")
    drawn = widgets(at)
    assert not {"dropout", "optimizer"} & set(drawn)
    assert {"lr", "batch_size", "seed", "layers", "width", "init_scheme", "tol"} <= set(drawn)
    assert not at.sidebar.warning
    drawn["lr"].set_value(0.5).run()
    assert not at.exception
    assert at.session_state["playground.config"].train.lr == 0.5
    assert dict(at.query_params) == {"lr": "0.5", "hide": "dropout,optimizer"}
    assert not {"dropout", "optimizer"} & set(widgets(at))


def test_a_teachers_page_wide_keys_stay_in_the_url_when_a_setting_changes() -> None:
    """`present`, `hide` and the lessons' `predict` live beside the run's settings: changing a setting keeps them."""
    at = open_sidebar(hide="dropout", predict="0")
    widgets(at)["lr"].set_value(0.5).run()
    assert not at.exception
    assert dict(at.query_params) == {"lr": "0.5", "hide": "dropout", "predict": "0"}


def test_hiding_a_field_removes_its_parts_and_a_section_with_nothing_left() -> None:
    at = open_sidebar(hide="hidden,dtype,arithmetic,tol")
    assert not {"layers", "width", "dtype", "arithmetic", "tol"} & set(widgets(at))
    assert "activation" in widgets(at)
    assert "Arithmetic" not in [e.label for e in at.sidebar.expander]


def test_an_unknown_name_in_a_hide_list_is_shown_as_text_and_the_rest_is_hidden() -> None:
    at = open_sidebar(hide="dropout,[log in](https://example.com)")
    assert "dropout" not in widgets(at)
    (warning,) = at.sidebar.warning
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", warning.value).replace("\u2060", "")  # as Markdown shows it
    assert text.startswith("hide: cannot hide '[log in](https://example.com)'; hide any of preset, dataset")
    assert "](" not in warning.value  # escaped: no link is drawn
