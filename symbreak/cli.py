"""The `symbreak` command: train one configuration and print a JSON summary.

Exit codes: 0 for a finished run (a diverged one too: the summary says so),
2 for bad input, with one line on stderr that names the setting or file.
"""

from __future__ import annotations

import argparse
import codecs
import importlib
import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import torch

from symbreak import DEFAULT_THREADS
from symbreak.classroom import board
from symbreak.data.dataset import DataError
from symbreak.engine.metrics import distinct, gap
from symbreak.engine.trainer import Trainer, load_dataset
from symbreak.export import csv_text
from symbreak.lessons import ticket
from symbreak.serving import classes
from symbreak.settings import registry
from symbreak.settings.config import FLAT_FIELDS, MAX_EXPLICIT_CHARS, MAX_VALUE_CHARS, Config
from symbreak.settings.presets import PRESETS, preset
from symbreak.settings.registry import SETTINGS, Setting
from symbreak.settings.values import ConfigError, quote

EXIT_USAGE = 2
# Config fields whose flag (--data, --init-weights) names a file rather than holding the value.
FILE_FIELDS = tuple(s.key for s in registry.fields() if s.kind in (registry.FILE, registry.WEIGHTS, registry.MASK))
# How a flag reads each kind of setting (any other kind is read as text).
_FLAG_TYPES = {registry.NUMBER: float, registry.INT: int}
MAX_THREADS = 256
MAX_TICKET_RUNS = 20  # the most seeds, and the most rounds, `symbreak ticket` takes
# A config file holds one init_weights text, one mask and one value for each other setting (indenting and the
# escaped quotes of init_weights add far less than a value's limit).
MAX_CONFIG_BYTES = MAX_EXPLICIT_CHARS + registry.MAX_MASK_CHARS + len(FLAT_FIELDS) * MAX_VALUE_CHARS
WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
SERVE_MODULE = "symbreak.serving.serve"
DEFAULT_BASE_URL = "http://localhost:8501"
# The board's CSV starts with who and how far, and ends with when.


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line and exits with 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"symbreak: error: {message}\n")


def _serve() -> ModuleType | None:
    """The `serve` subcommand's module, or None where it is not installed (the command line works without)."""
    return importlib.import_module(SERVE_MODULE) if importlib.util.find_spec(SERVE_MODULE) else None


def build_parser() -> argparse.ArgumentParser:
    """The command line's flags: one per config field, plus the files to read and write."""
    parser = _Parser(prog="symbreak", description="Watch hidden neurons stay identical or split apart.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="train one configuration and print a JSON summary")
    start = run.add_mutually_exclusive_group()
    entry = SETTINGS["preset"]
    start.add_argument(entry.option, dest=entry.key, choices=list(PRESETS), help=entry.cli_help())
    start.add_argument("--config", metavar="FILE.json",
                       help="start from a saved configuration (the app's 'Config (JSON)' download)")
    for entry in registry.fields():
        _add_flag(run, entry)
    run.add_argument("--threads", type=int, metavar="N",
                     help=f"torch threads (default {DEFAULT_THREADS}; more help on large data or wide layers; "
                          f"at most {MAX_THREADS})")
    run.add_argument("--out-weights", metavar="FILE.json", help="write the final parameters here")
    run.add_argument("--out-history", metavar="FILE.csv", help="write the recorded parameters and gradients here")
    run.add_argument("--out-metrics", metavar="FILE.csv",
                     help="write the loss and accuracy of every recorded step here")
    commands.add_parser("presets", help="list the presets")
    lottery = commands.add_parser("ticket", help="prune, rewind and retrain (the lottery ticket); print a JSON summary")
    lottery.add_argument("--seeds", type=int, default=ticket.TICKET_SEEDS, metavar="N",
                         help=f"starts to average over (default {ticket.TICKET_SEEDS}, at most {MAX_TICKET_RUNS})")
    lottery.add_argument("--rounds", type=int, default=ticket.TICKET_ROUNDS, metavar="R",
                         help=f"rounds of pruning 20%% of each layer's weights (default {ticket.TICKET_ROUNDS}, "
                              f"at most {MAX_TICKET_RUNS})")
    _add_class_parser(commands)
    serve = _serve()
    if serve is not None:
        serve.add_parser(commands)
    return parser


def _add_flag(parser: argparse.ArgumentParser, entry: Setting) -> None:
    """The flag of one config field, from its registry entry: its type or choices, and its help with the range."""
    options: dict[str, Any] = {"dest": entry.key, "help": entry.cli_help()}
    if entry.kind == registry.BOOL:
        options.update(action="store_true", default=None)
    elif entry.kind == registry.CHOICE:
        options["choices"] = entry.choices
    else:
        options.update(type=_FLAG_TYPES.get(entry.kind, str), metavar=entry.metavar)
    parser.add_argument(entry.option, **options)


def _add_class_parser(commands: argparse._SubParsersAction) -> None:
    """`symbreak class new|export|close`: a class that students join by code, from the teacher's terminal."""
    group = commands.add_parser("class", help="open, export or close a class that students join by its code")
    actions = group.add_subparsers(dest="action", required=True, parser_class=_Parser)
    new = actions.add_parser("new", help="open a class and print its code, links and teacher key as JSON")
    new.add_argument("--ttl", type=float, metavar="HOURS", default=classes.DEFAULT_TTL_SECONDS / 3600,
                     help=f"how long the class stays open (default {classes.DEFAULT_TTL_SECONDS // 3600}, "
                          f"at most {classes.MAX_TTL_SECONDS // 3600})")
    new.add_argument("--base-url", metavar="URL", default=DEFAULT_BASE_URL,
                     help=f"the app's address as the students reach it (default {DEFAULT_BASE_URL})")
    export = actions.add_parser("export", help="print the board: each student's row and the poll answers")
    export.add_argument("--format", choices=("csv", "json"), default="csv", help="csv (default) or json")
    export.add_argument("--anonymise", action="store_true",
                        help="call the students Student 1, 2, ... in the order they joined; leave out their answers")
    close = actions.add_parser("close", help="end the class now, deleting its names, rows and votes")
    for parser in (new, export, close):
        if parser is not new:
            parser.add_argument("code", help="the class code")
            parser.add_argument("--key", required=True, help="the teacher key `symbreak class new` printed")
        parser.add_argument("--store", metavar="URL",
                            help=f"redis://HOST:PORT/DB or an SQLite file (default ${classes.STORE_ENV}, else "
                                 f"{classes.default_store_path()})")


def config_from_args(args: argparse.Namespace) -> Config:
    """The config the flags describe, over the preset or the config file (or the defaults)."""
    if args.config:
        base = Config.from_json(_read(args.config, "config", MAX_CONFIG_BYTES))
    else:
        base = preset(args.preset) if args.preset else Config()
    flat: dict[str, object] = {}
    for key in (k for k in FLAT_FIELDS if k not in FILE_FIELDS):
        value = getattr(args, key)
        if value is not None:
            flat[key] = value if isinstance(value, str) else str(value)
    if args.path:
        flat["dataset"], flat["path"] = registry.CSV_DATASET, args.path
    for key in (k for k in FILE_FIELDS if SETTINGS[k].kind != registry.FILE and getattr(args, k)):
        flat[key] = _read(getattr(args, key), key, SETTINGS[key].max_chars)  # --init-weights, --mask
    return Config.from_flat(flat, base=base)


def _read(path: str, what: str, limit: int) -> str:
    """A UTF-8 text file of at most `limit` bytes, or a ConfigError naming the setting and what is wrong."""
    try:
        with open(path, "rb") as file:
            data = file.read(limit + 1)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{what}: cannot read {quote(path)} ({reason})") from None
    if len(data) > limit:
        raise ConfigError(f"{what}: {quote(path)} is over {limit:,} bytes, larger than any valid {what} file")
    if not data.strip():
        raise ConfigError(f"{what}: {quote(path)} is empty")
    if data.startswith(WIDE_BOMS) or b"\0" in data:
        raise ConfigError(f"{what}: {quote(path)} is not UTF-8 text (UTF-16, or binary): save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what}: {quote(path)} is not UTF-8 text (byte {exc.start} cannot be read): "
                          "save it as UTF-8") from None


def _set_threads(threads: int | None) -> None:
    """Use `threads` torch threads; None keeps the library's default of one."""
    if threads is None:
        return
    if not 1 <= threads <= MAX_THREADS:
        raise ConfigError(f"threads: must be between 1 and {MAX_THREADS} (got {threads})")
    torch.set_num_threads(threads)


def _write(path: str, text: str) -> None:
    """Write a result file exactly as given (no newline translation)."""
    Path(path).write_text(text, encoding="utf-8", newline="")


def _strict(value: Any) -> Any:
    """The value with NaN and infinity replaced by None, so the summary is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strict(v) for v in value]
    return value


def run(args: argparse.Namespace) -> dict:
    """Train the configuration the flags describe, write the files asked for, and return the summary."""
    _set_threads(args.threads)
    config = config_from_args(args)
    trainer = Trainer(config, load_dataset(config))
    trainer.step(config.train.steps)
    history = trainer.history
    gaps, counts = [], []
    for layer in range(len(config.model.hidden)):
        vectors = history.neuron_vectors(layer)[-1]
        gaps.append(float(gap(vectors)))
        counts.append(int(distinct(vectors, config.tol)))
    if args.out_weights:
        _write(args.out_weights, trainer.weights_json())
    if args.out_history:
        _write(args.out_history, csv_text(history.to_frame(input_names=list(trainer.dataset.feature_names))))
    if args.out_metrics:
        _write(args.out_metrics, csv_text(history.metrics_frame()))
    names = ["train_loss", "test_loss"]
    if trainer.task != "regression":
        names += ["train_accuracy", "test_accuracy"]
    summary = {
        "steps": trainer.step_count,
        "final_loss": trainer.final_loss[0],
        "diverged": trainer.diverged,
        "hidden_gap": gaps,
        "distinct_neurons": counts,
        **{name: float(history.metric(name)[-1]) for name in names},
    }
    if trainer.diverged:
        summary["diverged_at"] = trainer.diverged_at[0]
        summary["message"] = trainer.divergence_message()
    return summary


def class_command(args: argparse.Namespace) -> str:
    """Run `symbreak class ACTION` and return what it prints; ClassError or StoreDown for what the user can fix."""
    if args.action == "new" and not 0 < args.ttl <= classes.MAX_TTL_SECONDS / 3600:
        raise classes.ClassError(f"--ttl: a class stays open more than 0 and at most "
                                 f"{classes.MAX_TTL_SECONDS // 3600} hours (got {args.ttl:g})")
    base = args.base_url.rstrip("/") if args.action == "new" else ""
    if args.action == "new" and not base.startswith(("http://", "https://")):
        raise classes.ClassError(f"--base-url: give the app's address with http:// or https:// (got {quote(base)})")
    try:
        store = classes.open_store(args.store)
    except ValueError as exc:
        raise classes.ClassError(f"{'--store' if args.store else classes.STORE_ENV}: {exc}") from None
    try:
        if args.action == "new":
            made = store.new_class(ttl=args.ttl * 3600)
            return json.dumps({"code": made.code, "join_url": f"{base}/?class={made.code}",
                               "teacher_url": f"{base}/teach?class={made.code}&key={made.teacher_key}",
                               "teacher_key": made.teacher_key})
        code = classes.normalise_code(args.code)
        if args.action == "close":
            store.close(code, args.key)
            return f"class {code} closed"
        rows = store.rows(code, args.key)
        polls = [entry for poll in store.polls(code, args.key)
                 for entry in board.poll_summary(store.poll_about(code, args.key, poll).get("question", poll),
                                                 store.votes(code, args.key, poll), args.format == "json"
                                                 and args.anonymise)]
        if args.format == "csv":
            return board.export_csv(rows, args.anonymise, polls).rstrip("\n")
        return board.export_json(code, rows, polls, args.anonymise)
    finally:
        store.close_store()


def _fail(message: str) -> int:
    """Report bad input as the one line the exit code promises."""
    print(f"symbreak: error: {' '.join(message.splitlines())}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, or 2 for bad input with one line on stderr)."""
    args = build_parser().parse_args(argv)
    if args.command == "presets":
        for name, (description, _) in PRESETS.items():
            print(f"{name:18} {description}")
        return 0
    if args.command == "serve":
        return _serve().main(args)
    if args.command == "ticket":
        for name in ("seeds", "rounds"):
            if not 1 <= getattr(args, name) <= MAX_TICKET_RUNS:
                return _fail(f"--{name}: must be between 1 and {MAX_TICKET_RUNS} (got {getattr(args, name)})")
        print(json.dumps(ticket.summary_json(ticket.lottery(args.seeds, args.rounds))))
        return 0
    if args.command == "class":
        try:
            print(class_command(args))
        except (classes.ClassError, classes.StoreDown) as exc:
            return _fail(str(exc))
        return 0
    try:
        summary = run(args)
    except (ConfigError, DataError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"{exc.strerror or exc}: {quote(exc.filename)}")
    print(json.dumps(_strict(summary), allow_nan=False))
    return 0
