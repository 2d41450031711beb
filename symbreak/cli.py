"""The `symbreak` command: train one configuration and print a JSON summary."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn

from .config import (
    ACTIVATIONS, ARITHMETIC, DTYPES, FLAT_FIELDS, OPTIMIZERS, PRESETS, TASK_CHOICES, Config, ConfigError, preset,
)
from .data import DataError
from .metrics import distinct, spread
from .trainer import Trainer

EXIT_USAGE = 2
# Config fields whose flag (--data, --init-weights) names a file rather than holding the value.
FILE_FIELDS = ("path", "init_weights")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line and exits with 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"symbreak: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symbreak", description="Watch hidden neurons stay identical or split apart.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="train one configuration and print a JSON summary")
    start = run.add_mutually_exclusive_group()
    start.add_argument("--preset", choices=list(PRESETS), help="start from a named preset")
    start.add_argument("--config", metavar="FILE.json",
                       help="start from a saved configuration (the app's 'Config (JSON)' download)")
    run.add_argument("--dataset", help="built-in dataset name")
    run.add_argument("--data", metavar="FILE.csv", help="train on a CSV file (numeric features + target)")
    run.add_argument("--target", help="the CSV's target column (default: the last)")
    run.add_argument("--standardize", action="store_true", default=None, help="standardize CSV features")
    run.add_argument("--task", choices=TASK_CHOICES, help="override the inferred task")
    run.add_argument("--n-samples", type=int, help="size of a built-in dataset")
    run.add_argument("--noise", type=float, help="noise of a built-in dataset")
    run.add_argument("--test-fraction", type=float, help="share of the data held out for testing")
    run.add_argument("--hidden", help="hidden widths: 8, or 8,8; 0 for no hidden layer")
    run.add_argument("--activation", choices=ACTIVATIONS)
    run.add_argument("--init", metavar="SCHEME[:PARAM]", help="weight init, e.g. zeros, constant:0.5, normal:0.1")
    run.add_argument("--bias-init", metavar="SCHEME[:PARAM]", help="bias init, same schemes")
    run.add_argument("--perturb", type=float, metavar="EPS", help="add N(0, EPS²) noise to every weight")
    run.add_argument("--init-weights", metavar="FILE.json", help="explicit initial parameters")
    run.add_argument("--dropout", type=float, help="dropout rate after each hidden layer (0–0.9)")
    run.add_argument("--optimizer", choices=OPTIMIZERS)
    run.add_argument("--lr", type=float, help="learning rate")
    run.add_argument("--weight-decay", type=float)
    run.add_argument("--batch-size", type=int, help="0 = full batch")
    run.add_argument("--steps", type=int, help="number of optimizer updates")
    run.add_argument("--seed", type=int)
    run.add_argument("--dtype", choices=DTYPES)
    run.add_argument("--arithmetic", choices=ARITHMETIC, help="exact (default) or plain BLAS matmuls")
    run.add_argument("--tol", type=float, help="tolerance for counting neurons as equal (0 = bitwise)")
    run.add_argument("--out-weights", metavar="FILE.json", help="write the final parameters here")
    run.add_argument("--out-history", metavar="FILE.csv", help="write the recorded history here")
    commands.add_parser("presets", help="list the presets")
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    """The config the flags describe, over the preset or the config file (or the defaults)."""
    if args.config:
        base = Config.from_json(_read(args.config, "config"))
    else:
        base = preset(args.preset) if args.preset else Config()
    flat: dict[str, object] = {}
    for key in (k for k in FLAT_FIELDS if k not in FILE_FIELDS):
        value = getattr(args, key)
        if value is not None:
            flat[key] = value if isinstance(value, str) else str(value)
    if args.data:
        flat["dataset"], flat["path"] = "csv", args.data
    if args.init_weights:
        flat["init_weights"] = _read(args.init_weights, "init_weights")
    return Config.from_flat(flat, base=base)


def _read(path: str, what: str) -> str:
    """A file's text, or a ConfigError naming the flag's setting and why the file cannot be read."""
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path} ({exc.strerror})") from None


def run(args: argparse.Namespace) -> dict:
    config = config_from_args(args)
    trainer = Trainer(config)
    trainer.step(config.train.steps)
    spreads, counts = [], []
    for layer in range(len(config.model.hidden)):
        vectors = trainer.history.neuron_vectors(layer)[-1]
        spreads.append(float(spread(vectors)))
        counts.append(int(distinct(vectors, config.tol)))
    if args.out_weights:
        Path(args.out_weights).write_text(trainer.weights_json())
    if args.out_history:
        trainer.history.to_frame(input_names=list(trainer.dataset.feature_names)).to_csv(args.out_history, index=False)
    summary = {
        "steps": trainer.step_count,
        "final_loss": trainer.final_loss[0],
        "diverged": trainer.diverged,
        "hidden_spread": spreads,
        "distinct_neurons": counts,
    }
    if trainer.diverged:
        summary["diverged_at"] = trainer.diverged_at[0]
        summary["message"] = trainer.divergence_message()
    return summary


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "presets":
        for name, (description, _) in PRESETS.items():
            print(f"{name:18} {description}")
        return 0
    try:
        summary = run(args)
    except (ConfigError, DataError) as exc:
        print(f"symbreak: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"symbreak: error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(summary))
    return 0
