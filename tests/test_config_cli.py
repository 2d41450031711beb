"""Config validation and round trips, and the `symbreak` command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from symbreak import Config, Trainer, load_dataset
from symbreak.cli import build_parser, config_from_args, main
from symbreak.settings.config import (
    ACTIVATIONS,
    FLAT_FIELDS,
    MAX_DROPOUT,
    MAX_EXPLICIT_WEIGHT,
    MAX_HIDDEN_LAYERS,
    MAX_INIT_PARAM,
    MAX_LR,
    MAX_PERTURB,
    MAX_SEED,
    MAX_WEIGHT_DECAY,
    MIN_LR,
    OPTIMIZERS,
)
from symbreak.settings.presets import PRESETS, preset
from symbreak.settings.values import ConfigError


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_round_trip_through_flat_strings_and_json(name: str) -> None:
    config = preset(name)
    flat = config.to_flat()
    assert set(flat) == set(FLAT_FIELDS) and all(isinstance(v, str) for v in flat.values())
    assert Config.from_flat(flat) == config
    assert Config.from_json(config.to_json()) == config


@settings(max_examples=100, deadline=None)
@given(
    hidden=st.lists(st.integers(1, 64), max_size=3),
    activation=st.sampled_from(ACTIVATIONS),
    optimizer=st.sampled_from(OPTIMIZERS),
    lr=st.floats(1e-4, 100, allow_nan=False),
    dropout=st.floats(0, 0.9),
    seed=st.integers(0, 2**31 - 1),
    standardize=st.booleans(),
)
def test_any_valid_config_round_trips(hidden, activation, optimizer, lr, dropout, seed, standardize) -> None:
    config = Config.from_flat({"hidden": ",".join(map(str, hidden)) or "0", "activation": activation,
                               "optimizer": optimizer, "lr": lr, "dropout": dropout, "seed": seed,
                               "standardize": standardize})
    assert config.model.hidden == tuple(hidden)
    assert Config.from_flat(config.to_flat()) == config
    assert Config.from_json(config.to_json()) == config


@pytest.mark.parametrize("flat, message", [
    ({"lr": "-1"}, "lr: the learning rate must be above 0"),
    ({"lr": "abc"}, "lr: expected a number"),
    ({"dropout": "0.95"}, "dropout: must be between 0 and 0.9"),
    ({"hidden": ",".join(["8"] * (MAX_HIDDEN_LAYERS + 1))}, f"hidden: at most {MAX_HIDDEN_LAYERS} hidden layers"),
    ({"hidden": "65"}, "hidden: each layer's width must be between 1 and 64"),
    ({"hidden": "8,x"}, "hidden: expected widths"),
    ({"activation": "softsign"}, "activation: 'softsign' is not one of"),
    ({"optimizer": "rmsprop"}, "optimizer: 'rmsprop' is not one of"),
    ({"init": "glorot"}, "init: unknown scheme 'glorot'"),
    ({"init": "constant:abc"}, "init: parameter of 'constant' must be a number"),
    ({"init": "zeros:1"}, "init: scheme 'zeros' takes no parameter"),
    ({"bias_init": "normal:-1"}, "bias_init: the spread of 'normal' must be ≥ 0"),
    ({"perturb": "-0.1"}, "perturb: must be between 0 and 10"),
    ({"batch_size": "-2"}, "batch_size: must be between 0"),
    ({"batch_size": "2.5"}, "batch_size: expected a whole number"),
    ({"steps": "-5"}, "steps: must be between 0"),
    ({"seed": "-1"}, "seed: must be between 0"),
    ({"dtype": "float16"}, "dtype: 'float16' is not one of"),
    ({"arithmetic": "fast"}, "arithmetic: 'fast' is not one of"),
    ({"dataset": "mnist"}, "dataset: unknown dataset 'mnist'"),
    ({"task": "ranking"}, "task: 'ranking' is not one of"),
    ({"test_fraction": "0.9"}, "test_fraction: must be between 0 and 0.5"),
    ({"n_samples": "5"}, "n_samples: must be between 10"),
    ({"noise": "nan"}, "noise: must be between 0 and 1"),
    ({"tol": "2"}, "tol: must be between 0 and 1"),
    ({"weight_decay": "inf"}, "weight_decay: must be between 0 and 10"),
    ({"standardize": "maybe"}, "standardize: expected true or false"),
    ({"init_weights": "{"}, "init_weights: not valid JSON"),
    ({"init_weights": '{"layers": [{"weight": [[1, 2], [3]], "bias": [0, 0]}]}'}, "rows have different lengths"),
    ({"init_weights": '{"layers": [{"weight": [[1, 2]], "bias": [0, 0]}]}'}, "one value per row"),
    ({"colour": "red"}, "unknown setting 'colour'"),
])
def test_every_bad_value_names_its_field(flat: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        Config.from_flat(flat)


def test_url_params_ignore_unknown_keys_when_not_strict() -> None:
    config = Config.from_flat({"present": "1", "lr": "0.3"}, strict=False)
    assert config.train.lr == 0.3


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_run_prints_one_json_summary(capsys) -> None:
    code, out, _ = run_cli(["run", "--preset", "constant", "--steps", "40"], capsys)
    assert code == 0
    summary = json.loads(out)
    assert set(summary) >= {"steps", "final_loss", "diverged", "hidden_gap", "distinct_neurons"}
    assert summary["steps"] == 40 and summary["diverged"] is False
    assert summary["hidden_gap"] == [0.0] and summary["distinct_neurons"] == [1]


def test_cli_flags_cover_every_config_field(capsys, tmp_path: Path) -> None:
    args = ["run", "--dataset", "demand", "--n-samples", "120", "--noise", "0.2", "--test-fraction", "0.25",
            "--hidden", "6,3", "--activation", "tanh", "--init", "normal:0.4", "--bias-init", "constant:0.1",
            "--perturb", "0.001", "--dropout", "0.1", "--optimizer", "adam", "--lr", "0.01",
            "--weight-decay", "0.001", "--batch-size", "32", "--steps", "12", "--seed", "4", "--dtype", "float64",
            "--arithmetic", "blas", "--tol", "0", "--task", "binary"]
    code, out, _ = run_cli(args, capsys)
    assert code == 0
    summary = json.loads(out)
    assert len(summary["hidden_gap"]) == 2 and summary["distinct_neurons"] == [6, 3]


def test_cli_weights_and_history_files_round_trip(capsys, tmp_path: Path) -> None:
    weights, history = tmp_path / "w.json", tmp_path / "h.csv"
    code, out, _ = run_cli(["run", "--preset", "random", "--steps", "15", "--out-weights", str(weights),
                            "--out-history", str(history)], capsys)
    assert code == 0
    layers = json.loads(weights.read_text())["layers"]
    assert [len(layer["weight"]) for layer in layers] == [8, 1]
    frame = pd.read_csv(history)
    assert frame["step"].max() == 15 and {"layer", "neuron", "source", "value", "gradient"} <= set(frame.columns)
    code, out, _ = run_cli(["run", "--init-weights", str(weights), "--steps", "0"], capsys)
    assert code == 0
    trainer = Trainer(Config.from_flat({"init_weights": weights.read_text()}))
    assert trainer.weights_json() == weights.read_text()


def test_cli_config_file_is_the_base_and_flags_go_over_it(capsys, tmp_path: Path) -> None:
    saved = preset("constant-dropout").with_flat(hidden="5", seed="9", steps="30")
    path = tmp_path / "config.json"
    path.write_text(saved.to_json())
    args = build_parser().parse_args(["run", "--config", str(path), "--lr", "0.5"])
    assert config_from_args(args) == saved.with_flat(lr="0.5")
    code, out, _ = run_cli(["run", "--config", str(path)], capsys)
    assert code == 0 and json.loads(out)["steps"] == 30 and json.loads(out)["distinct_neurons"] == [5]
    path.write_text("{not json")
    code, _, err = run_cli(["run", "--config", str(path)], capsys)
    assert code == 2 and "config JSON: not valid JSON" in err and err.count("\n") == 1


def test_cli_trains_on_a_csv(capsys, tmp_path: Path) -> None:
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,label\n" + "\n".join(f"{i},{i % 3},{'yes' if i % 2 else 'no'}" for i in range(30)))
    code, out, _ = run_cli(["run", "--data", str(csv), "--standardize", "--steps", "5", "--hidden", "3"], capsys)
    assert code == 0 and json.loads(out)["steps"] == 5


@pytest.mark.parametrize("args, message", [
    (["run", "--lr", "-1"], "lr: the learning rate must be above 0"),
    (["run", "--bogus"], "unrecognized arguments: --bogus"),
    (["run", "--activation", "swish"], "invalid choice: 'swish'"),
    (["run", "--steps", "ten"], "invalid int value: 'ten'"),
    (["run", "--data", "/nonexistent.csv"], "nonexistent.csv"),
    (["run", "--init-weights", "/nonexistent.json"], "init_weights: cannot read"),
    (["run", "--config", "/nonexistent.json"], "config: cannot read"),
    (["run", "--preset", "random", "--config", "c.json"], "not allowed with argument"),
    (["run", "--preset", "tied-221", "--hidden", "4"], "layer 0 weight must be [4×2]"),
    (["fly"], "invalid choice: 'fly'"),
])
def test_cli_bad_input_exits_2_with_one_line(args: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(args))
    assert exc.value.code == 2
    _, err = capsys.readouterr()
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_cli_bad_csv_gets_its_message(capsys, tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("a,b,y\n1,x,0\n2,3,1\n")
    code, _, err = run_cli(["run", "--data", str(csv)], capsys)
    assert code == 2 and "column 'b' must be numeric" in err and err.count("\n") == 1


def test_cli_reports_divergence(capsys) -> None:
    code, out, _ = run_cli(["run", "--dataset", "sine", "--activation", "relu", "--lr", "50", "--init", "normal:1",
                            "--steps", "100"], capsys)
    summary = json.loads(out)
    assert code == 0 and summary["diverged"] is True and summary["steps"] < 100
    assert "lower the learning rate" in summary["message"].lower()


def test_presets_command_and_module_entry_point() -> None:
    done = subprocess.run([sys.executable, "-m", "symbreak", "presets"], capture_output=True, text=True, check=True)
    assert all(name in done.stdout for name in PRESETS)
    bad = subprocess.run([sys.executable, "-m", "symbreak", "run", "--dropout", "2"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("symbreak: error: dropout")


def strict_json(text: str) -> dict:
    """json.loads that refuses NaN and Infinity, which strict JSON has no words for."""
    def refuse(name: str) -> None:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def numpy_accuracy(layers: list[dict], x: np.ndarray, y: np.ndarray, task: str) -> float:
    """Share of correct predictions of an MLP with sigmoid hidden layers, its forward pass written in NumPy."""
    h = np.asarray(x, dtype=np.float64)
    for i, layer in enumerate(layers):
        h = h @ np.asarray(layer["weight"]).T + np.asarray(layer["bias"])
        if i < len(layers) - 1:
            h = 1.0 / (1.0 + np.exp(-h))
    predicted = h.argmax(axis=1) if task == "multiclass" else (h[:, 0] > 0).astype(float)
    return float(np.mean(predicted == y))


@pytest.mark.parametrize("args", [
    ["--preset", "softmax-zero", "--steps", "40"],
    ["--preset", "random", "--dataset", "moons", "--steps", "20"],
])
def test_cli_summary_accuracy_matches_numpy_on_the_final_weights(args: list[str], capsys, tmp_path: Path) -> None:
    weights = tmp_path / "w.json"
    code, out, _ = run_cli(["run", *args, "--out-weights", str(weights)], capsys)
    assert code == 0
    summary = strict_json(out)
    layers = json.loads(weights.read_text())["layers"]
    config = config_from_args(build_parser().parse_args(["run", *args]))
    data = load_dataset(config)
    for split, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
        assert summary[f"{split}_accuracy"] == pytest.approx(numpy_accuracy(layers, x, y, data.task), abs=1e-6)
    assert 0.5 < summary["train_accuracy"] < 1.0
    assert summary["final_loss"] == summary["train_loss"] and summary["test_loss"] > 0


def test_cli_summary_of_a_regression_has_losses_and_no_accuracy(capsys) -> None:
    code, out, _ = run_cli(["run", "--dataset", "sine", "--steps", "3"], capsys)
    summary = strict_json(out)
    assert code == 0 and {"train_loss", "test_loss"} <= set(summary)
    assert not {"train_accuracy", "test_accuracy"} & set(summary)


def test_cli_summary_is_strict_json_when_the_run_diverges(capsys, tmp_path: Path) -> None:
    csv = tmp_path / "huge.csv"
    csv.write_text("a,y\n" + "\n".join(f"1e30,{i}" for i in range(30)))
    code, out, _ = run_cli(["run", "--data", str(csv), "--task", "regression", "--activation", "linear",
                            "--init", "constant:100", "--steps", "5"], capsys)
    summary = strict_json(out)
    assert code == 0 and summary["diverged"] is True
    assert summary["final_loss"] is None and summary["train_loss"] is None


def test_cli_summary_test_loss_is_null_without_a_test_set(capsys) -> None:
    code, out, _ = run_cli(["run", "--dataset", "sine", "--test-fraction", "0", "--steps", "2"], capsys)
    assert code == 0 and strict_json(out)["test_loss"] is None


def test_cli_out_metrics_is_the_history_metrics_frame(capsys, tmp_path: Path) -> None:
    metrics = tmp_path / "m.csv"
    args = ["--preset", "softmax-zero", "--steps", "25"]
    code, _, _ = run_cli(["run", *args, "--out-metrics", str(metrics)], capsys)
    assert code == 0
    trainer = Trainer(config_from_args(build_parser().parse_args(["run", *args])))
    trainer.step(25)
    expected = trainer.history.metrics_frame()
    written = pd.read_csv(metrics)
    assert list(written.columns) == ["step", "train_loss", "test_loss", "train_accuracy", "test_accuracy"]
    assert written["step"].tolist() == list(range(26))
    pd.testing.assert_frame_equal(written, expected, check_dtype=False, rtol=0, atol=0)


def test_one_torch_thread_by_default_unless_omp_num_threads_says(tmp_path: Path) -> None:
    code = "import symbreak, torch; print(torch.get_num_threads())"
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.strip() == "1"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**env, "OMP_NUM_THREADS": "2"})
    assert done.stdout.strip() == "2"


def test_one_torch_thread_on_threads_started_later_too() -> None:
    """A Streamlit server runs every script run on a new thread, and OpenMP starts a new thread with its default
    team (one per core, whatever torch.set_num_threads said on another thread): unless that default is one,
    a Step 100 on a new thread woke a second OpenMP thread (which then spun) on every press."""
    code = ("import os, threading, symbreak, torch\n"
            "from symbreak.settings.presets import DEFAULT_PRESET, preset\n"
            "trainer = symbreak.Trainer(preset(DEFAULT_PRESET)); trainer.step(1500)\n"
            "def press():\n"
            "    before = len(os.listdir('/proc/self/task'))\n"
            "    trainer.step(100)\n"
            "    print(len(os.listdir('/proc/self/task')) - before)\n"
            "worker = threading.Thread(target=press); worker.start(); worker.join()")
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.strip() == "0", f"{done.stdout.strip()} more threads while a new thread trained"


def test_cli_threads_flag_sets_torch_threads(capsys) -> None:
    before = torch.get_num_threads()
    try:
        code, _, _ = run_cli(["run", "--threads", "3", "--steps", "1"], capsys)
        assert code == 0 and torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
    code, _, err = run_cli(["run", "--threads", "0", "--steps", "1"], capsys)
    assert code == 2 and "threads: must be between 1" in err and torch.get_num_threads() == before


def test_cli_help_takes_its_bounds_from_the_config(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for bound in (f"0–{MAX_DROPOUT:g}", f"{MIN_LR:g}–{MAX_LR:g}", f"≤ {MAX_INIT_PARAM:g}", f"0–{MAX_SEED}",
                  f"0–{MAX_PERTURB:g}", f"0–{MAX_WEIGHT_DECAY:g}", f"±{MAX_EXPLICIT_WEIGHT:g}"):
        assert bound in text, bound


def test_cli_history_of_a_formula_named_column_is_neutralised_and_training_unchanged(capsys, tmp_path: Path) -> None:
    evil = "=cmd|' /C calc'!A0"
    rows = [f"{i % 5 - 2},{(i * 7) % 3},{i % 2}" for i in range(40)]
    hostile, plain = tmp_path / "hostile.csv", tmp_path / "plain.csv"
    hostile.write_text(f'"{evil}",b,y\n' + "\n".join(rows))
    plain.write_text("a,b,y\n" + "\n".join(rows))
    outputs = {}
    for name, data in (("hostile", hostile), ("plain", plain)):
        out = tmp_path / f"{name}-history.csv"
        code, summary, _ = run_cli(["run", "--data", str(data), "--init", "normal:0.5", "--steps", "6",
                                    "--out-history", str(out)], capsys)
        assert code == 0
        outputs[name] = (pd.read_csv(out), strict_json(summary))
    history, summary = outputs["hostile"]
    assert set(history.loc[history["layer"] == 1, "source"]) == {"'" + evil, "b", "bias"}
    assert (history["value"] < 0).any()
    reference, reference_summary = outputs["plain"]
    pd.testing.assert_frame_equal(history.drop(columns="source"), reference.drop(columns="source"))
    assert summary == reference_summary
