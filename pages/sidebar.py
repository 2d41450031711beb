"""The configuration sidebar, built from the settings registry (symbreak/settings/registry.py), and its callbacks.

Every control is one registry entry's widget (label, help, bounds, step,
choices); a change asks the page's `RunSlot` for a new run, which starts or
leaves the old run going with a message. A teacher's `?hide=` list leaves
controls out. The starting weights can be typed into tables (networks of at
most 16 hidden neurons); the edits become the config's explicit init. A weight
mask (which weights are pruned) is JSON text in a box of its own.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
import torch

from pages import classroom
from pages.chrome import failure, plain, short
from pages.session import RunSlot, start_upload
from symbreak.data.builtin import BUILTINS
from symbreak.engine import model
from symbreak.engine.trainer import Trainer
from symbreak.figures.describe import pruned_sentence
from symbreak.settings import registry
from symbreak.settings.config import FLAT_FIELDS, MAX_SEED, SCHEMES_WITH_PARAM, Config, parse_hide
from symbreak.settings.explicit import explicit_json
from symbreak.settings.presets import PRESETS, preset
from symbreak.settings.registry import HIDE_KEY, MAX_UPLOAD_MB, SETTINGS
from symbreak.settings.values import ConfigError, parse_scheme

MAX_TABLE_NEURONS = 16
MAX_TABLE_INPUTS = 16
CUSTOM = "custom"
_HELP = {**{key: entry.help for key, entry in SETTINGS.items()},
         "table": "Rows are the neurons of a layer, columns the weights coming into them. Give two rows the same "
                  "numbers (and the same outgoing weights) to keep two neurons tied; change one cell to untie them."}
# The sidebar's sections by the controls they hold: one whose controls are all hidden is left out.
_SECTIONS = {
    "data": ("path", "target", "task", "standardize", "n_samples", "noise", "test_fraction"),
    "network": ("layers", "width", "activation", "mask"),
    "start": ("init_scheme", "init_param", "bias_scheme", "bias_param", "perturb", "init_weights"),
    "training": ("dropout", "optimizer", "lr", "batch_size", "weight_decay", "seed"),
    "arithmetic": ("dtype", "arithmetic", "tol"),
}
WIDTH_WITHOUT_LAYERS = 8  # the width control's value while there is no hidden layer


def new_seed() -> int:
    """A fresh random seed for 'New random seed'."""
    return random.randrange(1, MAX_SEED)


def _preset_of(config: Config) -> str:
    for name in PRESETS:
        if preset(name) == config:
            return name
    return CUSTOM


def _scheme_values(text: str) -> tuple[str, float]:
    name, param = parse_scheme(text)
    return name, float(param if param is not None else SCHEMES_WITH_PARAM.get(name, 0.5))


def _scheme_text(name: str, param: float) -> str:
    return f"{name}:{float(param)!r}" if name in SCHEMES_WITH_PARAM else name


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _field_value(config: Config, key: str) -> Any:
    section, attr = FLAT_FIELDS[key]
    return getattr(getattr(config, section) if section else config, attr)


def widget_values(config: Config) -> dict[str, Any]:
    """The value of every sidebar control for a config (numbers clamped into the controls' ranges)."""
    init_name, init_param = _scheme_values(config.init.weight)
    bias_name, bias_param = _scheme_values(config.init.bias)
    hidden = config.model.hidden
    width = hidden[0] if hidden else WIDTH_WITHOUT_LAYERS
    parts = {"preset": _preset_of(config), "layers": len(hidden), "width": width, "init_scheme": init_name,
             "init_param": init_param, "bias_scheme": bias_name, "bias_param": bias_param}
    values: dict[str, Any] = {}
    for entry in registry.controls():
        if entry.widget in (registry.UPLOAD, registry.TABLE):
            continue
        value = parts[entry.key] if entry.key in parts else _field_value(config, entry.key)
        if entry.kind in (registry.NUMBER, registry.INT):
            value = (int if entry.kind == registry.INT else float)(_clamp(value, entry.low, entry.high))
        values[entry.key] = value
    return values


def _changes(control: str, values: Mapping[str, Any], config: Config,
             upload_name: str | None = None) -> tuple[dict[str, Any] | Config, str]:
    """The config change one control asks for, and a note for the 'New run' message."""
    if control == "preset":
        return (preset(values["preset"]) if values["preset"] != CUSTOM else config), ""
    notes = []
    clear_explicit = {}
    if config.init.explicit and control in ("dataset", "layers", "width", "init_scheme", "init_param",
                                            "bias_scheme", "bias_param"):
        clear_explicit = {"init_weights": ""}
        notes.append("typed-in initial weights replaced")
    if config.init.mask and control in ("dataset", "layers", "width"):  # a new shape: the mask no longer fits
        clear_explicit["mask"] = ""
        notes.append("pruning mask removed")
    note = "; ".join(notes)
    if control == "dataset" and values["dataset"] == "csv" and config.data.dataset != "csv":
        if upload_name is None:
            raise ConfigError("dataset: upload a CSV file first (under Data details); it then becomes the dataset")
        return {"dataset": "csv", "path": upload_name, **clear_explicit}, note
    if control in ("layers", "width"):
        return {"hidden": ",".join([str(values["width"])] * values["layers"]) or "0", **clear_explicit}, note
    if control == "dataset" and values["dataset"] != "csv":
        return {"dataset": values["dataset"], "path": "", "target": "", **clear_explicit}, note
    for field, prefix in (("init", "init"), ("bias_init", "bias")):
        if control == f"{prefix}_scheme":  # a new scheme starts from its own default value
            scheme = values[control]
            return {field: _scheme_text(scheme, SCHEMES_WITH_PARAM.get(scheme, 0.0)), **clear_explicit}, note
        if control == f"{prefix}_param":
            return {field: _scheme_text(values[f"{prefix}_scheme"], values[control]), **clear_explicit}, note
    return {control: values[control], **clear_explicit}, note


def _on_control(slot_name: str, control: str) -> None:
    slot = RunSlot(slot_name)
    values = {name: st.session_state.get(slot.key(f"w.{name}")) for name in widget_values(slot.config)}
    try:
        changes, note = _changes(control, values, slot.config, slot.upload[0] if slot.upload else None)
    except Exception as exc:  # a control's value is data too
        slot.set_errors([failure(control, "", exc)])
        return
    slot.propose(changes, note)


def _seed_widgets(slot: RunSlot) -> None:
    """Write the config's values into the controls when the run changed (or a control was not drawn last time)."""
    fresh = st.session_state.get(slot.key("seeded")) != slot.version
    for name, value in widget_values(slot.config).items():
        key = slot.key(f"w.{name}")
        # Writing a control's own value back would reset it in the browser mid-gesture (a key held on a slider).
        if key not in st.session_state or (fresh and st.session_state[key] != value):
            st.session_state[key] = value
    st.session_state[slot.key("seeded")] = slot.version



def _on_upload(slot_name: str) -> None:
    slot = RunSlot(slot_name)
    file = st.session_state.get(slot.key("w.upload_file"))
    if file is not None:
        start_upload(slot, file.name, file.getvalue())


def _table_base(slot: RunSlot) -> list[tuple[np.ndarray, np.ndarray]]:
    """The run's starting weights before the perturbation ε: what the weight table shows and edits."""
    config = slot.config
    unperturbed = replace(config, init=replace(config.init, perturb=0.0))
    flat = model.init_params(unperturbed, slot.trainer.layout, torch.Generator().manual_seed(config.seed))
    return [(w.numpy().copy(), b.numpy().copy()) for w, b in slot.trainer.layout.views(flat)]


def _table_labels(trainer: Trainer, layer: int) -> tuple[list[str], list[str]]:
    sizes = trainer.layout.sizes
    if layer == 0:
        columns = list(trainer.dataset.feature_names)
    else:
        columns = [f"from n{i + 1}" if len(sizes) == 3 else f"from h{layer}.{i + 1}" for i in range(sizes[layer])]
    if layer == trainer.layout.n_layers - 1:
        outs = trainer.dataset.classes if trainer.task == "multiclass" else ("output",)
        rows = [str(c) for c in outs]
    else:
        rows = [f"n{i + 1}" if len(sizes) == 3 else f"h{layer + 1}.{i + 1}" for i in range(sizes[layer + 1])]
    return rows, columns + ["bias"]


def weight_tables(slot: RunSlot) -> None:
    """Editable tables of the starting weights (≤ 16 hidden neurons): edits become the explicit init.

    The edits are read from the tables' return values (not a callback), so a
    test can set a table's edit state in `st.session_state` and run.
    """
    trainer = slot.trainer
    sizes = trainer.layout.sizes
    if sum(sizes[1:-1]) > MAX_TABLE_NEURONS or sizes[0] > MAX_TABLE_INPUTS:
        st.caption(f"Typing in starting weights works for networks of at most {MAX_TABLE_NEURONS} hidden neurons "
                   f"and {MAX_TABLE_INPUTS} inputs.")
        return
    caption = _HELP["table"]
    if sizes == (2, 2, 1):
        caption += " In the 2-2-1 net, w1, w2 are row n1, w3, w4 row n2 and w5, w6 the output row."
    if slot.config.init.perturb:
        caption += " The perturbation ε is added on top."
    st.caption(caption)
    base = _table_base(slot)
    edited = []
    for layer, (weight, bias) in enumerate(base):
        rows, columns = _table_labels(trainer, layer)
        frame = pd.DataFrame(np.column_stack([weight, bias]), index=rows, columns=columns)
        into = "the outputs" if layer == trainer.layout.n_layers - 1 else f"hidden layer {layer + 1}"
        st.markdown(f"**Into {into}**")
        edited.append(st.data_editor(
            frame, key=slot.key(f"w.table.{slot.version}.{layer}"),
            column_config={c: st.column_config.NumberColumn(c, format="%.4g", required=True) for c in columns}))
    values = [frame.to_numpy(dtype=float) for frame in edited]
    if all(np.array_equal(v, np.column_stack(b)) for v, b in zip(values, base)):
        return
    if any(np.isnan(v).any() for v in values):
        slot.set_errors(["Starting weights: every cell needs a number (one was left empty)"])
        return
    text = explicit_json([(v[:, :-1].tolist(), v[:, -1].tolist()) for v in values])
    if slot.propose({"init_weights": text}):
        st.rerun()


def _control(slot: RunSlot, name: str) -> dict[str, Any]:
    """Common keyword arguments of a sidebar control: key, callback, help."""
    return dict(key=slot.key(f"w.{name}"), on_change=_on_control, args=(slot.name, name), help=_HELP[name])


def hidden_controls() -> frozenset[str]:
    """The controls a teacher's `?hide=` list, or the class's lock, removes from the sidebar."""
    return parse_hide(str(st.query_params.get(HIDE_KEY, "")))[0] | classroom.locked()


def _widget(where: Any, slot: RunSlot, key: str, **options: Any) -> None:
    """One sidebar control as its registry entry describes it (label, help, bounds, step, format, choices), unless
    the hide list removes it; `options` override the entry's (the choices a page offers now, how it shows them)."""
    entry = SETTINGS[key]
    if key in hidden_controls():
        return
    args = {**_control(slot, key), **options}
    if entry.widget in (registry.SELECT, registry.RADIO):
        choices = list(args.pop("choices", entry.choices))
        args.setdefault("format_func", entry.show)
        if entry.widget == registry.SELECT:
            where.selectbox(entry.label, choices, **args)
        else:
            where.radio(entry.label, choices, horizontal=True, **args)
    elif entry.widget == registry.SLIDER:
        where.slider(entry.label, entry.low, entry.high, step=entry.step, **args)
    elif entry.widget == registry.NUMBER_INPUT:
        where.number_input(entry.label, min_value=entry.low, max_value=entry.high, step=entry.step,
                           format=entry.format, **args)
    elif entry.widget == registry.CHECKBOX:
        where.checkbox(entry.label, **args)
    elif entry.widget == registry.TEXT_AREA:
        where.text_area(entry.label, max_chars=entry.max_chars, height=160, **args)
    else:
        where.text_input(entry.label, max_chars=entry.max_chars, **args)


def section_args(key: str) -> dict[str, Any]:
    """Keyword arguments of an expander or popover whose content is drawn only while it is open (`.open`).

    The browser re-renders every element of the page many times per rerun
    (about 15 times for a Step click), so controls nobody is looking at cost
    time on every click; opening the section reruns the script to draw them.
    """
    return {"key": key, "on_change": "rerun"}


def _data_controls(slot: RunSlot) -> None:
    """Upload, CSV settings or the built-in data's size and noise, and the test share."""
    config = slot.config
    if "path" not in hidden_controls():
        entry = SETTINGS["path"]
        st.file_uploader(entry.label, type=["csv", "txt", "tsv"], key=slot.key("w.upload_file"),
                         on_change=_on_upload, args=(slot.name,), help=entry.help, max_upload_size=MAX_UPLOAD_MB)
    csv = config.data.dataset == registry.CSV_DATASET
    for key in ("target", "task", "standardize") if csv else ("n_samples", "noise"):
        _widget(st, slot, key)
    _widget(st, slot, "test_fraction")


def _arithmetic_controls(slot: RunSlot) -> None:
    """Number type, exact or BLAS arithmetic, and the tolerance that counts neurons as equal."""
    for key in _SECTIONS["arithmetic"]:
        _widget(st, slot, key)


def config_sidebar(slot: RunSlot) -> None:
    """Every configuration control, in the sidebar; each change starts a new run (or shows why it cannot).

    The sections that start closed draw their controls only when opened (see `section_args`). A teacher's
    `?hide=` list leaves controls out (a section with none left is left out too); a name it cannot use is
    reported at the top of the sidebar.
    """
    _seed_widgets(slot)
    config = slot.config
    sb = st.sidebar
    hidden, message = parse_hide(str(st.query_params.get(HIDE_KEY, "")))
    hidden |= classroom.locked()
    if message:
        sb.warning(plain(message), icon=":material/visibility_off:")
    shown = {name: not set(keys) <= hidden for name, keys in _SECTIONS.items()}
    if "preset" not in hidden:
        options = list(PRESETS) + ([CUSTOM] if _preset_of(config) == CUSTOM else [])
        _widget(sb, slot, "preset", choices=options)
        if _preset_of(config) != CUSTOM:
            sb.caption(PRESETS[_preset_of(config)][0])
        else:
            sb.caption("Your own settings (changed from a preset).")
    datasets = list(BUILTINS) + ([registry.CSV_DATASET] if config.data.dataset == registry.CSV_DATASET or slot.upload
                                 else [])
    upload_name = slot.upload[0] if slot.upload else ""
    csv_name = config.data.path if config.data.dataset == registry.CSV_DATASET else upload_name
    _widget(sb, slot, "dataset", choices=datasets,
            format_func=lambda d: f"csv: {short(csv_name)}" if d == registry.CSV_DATASET else d)
    if shown["data"]:
        with sb.expander("Data details", **section_args(slot.key("x.data"))) as section:
            if section.open:
                _data_controls(slot)
    if shown["network"]:
        with sb.expander("Network", expanded=True):
            left, right = st.columns(2)
            _widget(left, slot, "layers")
            _widget(right, slot, "width")
            _widget(st, slot, "activation")
            if "mask" not in hidden:
                with st.popover(SETTINGS["mask"].label, width="stretch", **section_args(slot.key("x.mask")),
                                help=SETTINGS["mask"].help) as box:
                    if box.open:
                        st.caption(f"Paste a mask (the lottery-ticket lesson's links carry one), or empty the box "
                                   f"to prune nothing. Now: {pruned_sentence(slot.trainer.history) or 'none'}.")
                        _widget(st, slot, "mask")
    if shown["start"]:
        with sb.expander("Starting weights", expanded=True):
            for scheme, param in (("init_scheme", "init_param"), ("bias_scheme", "bias_param")):
                left, right = st.columns([3, 2])
                _widget(left, slot, scheme)
                if st.session_state[slot.key(f"w.{scheme}")] in SCHEMES_WITH_PARAM:
                    _widget(right, slot, param)
            _widget(st, slot, "perturb")
            if config.init.explicit:
                st.info("Starting weights typed in by hand (below) replace the weight and bias init.")
            if "init_weights" not in hidden:
                entry = SETTINGS["init_weights"]
                with st.popover(entry.label, width="stretch", **section_args(slot.key("x.tables")),
                                help=entry.help) as box:
                    if box.open:
                        weight_tables(slot)
    if shown["training"]:
        with sb.expander("Training", expanded=True):
            _widget(st, slot, "dropout")
            for pair in (("optimizer", "lr"), ("batch_size", "weight_decay")):
                for column, key in zip(st.columns(2), pair):
                    _widget(column, slot, key)
            _widget(st, slot, "seed")
    if shown["arithmetic"]:
        with sb.expander("Arithmetic", **section_args(slot.key("x.arithmetic"))) as section:
            if section.open:
                _arithmetic_controls(slot)


def config_summary(config: Config) -> str:
    """A one-line description of the run: the preset's caption, or the settings that matter most here (a CSV's
    file name escaped for Markdown)."""
    name = _preset_of(config)
    if name != CUSTOM:
        return PRESETS[name][0]
    hidden = "-".join(str(h) for h in config.model.hidden) or "no hidden layer"
    init = "typed-in weights" if config.init.explicit else f"init {config.init.weight}"
    data = config.data.dataset if config.data.dataset != "csv" else plain(short(config.data.path))
    parts = [data, f"hidden {hidden}", config.model.activation, init]
    if config.init.perturb:
        parts.append(f"ε {config.init.perturb:g}")
    if config.train.dropout:
        parts.append(f"dropout {config.train.dropout:g}")
    parts.append(f"{config.train.optimizer} lr {config.train.lr:g}")
    return ", ".join(parts)
