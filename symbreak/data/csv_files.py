"""The user's CSV files: read, checked and turned into a `Dataset`, with a message for every problem.

A clean file is read by pyarrow; any other goes through a careful path that names the row and column at fault.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute
import pyarrow.csv as pa_csv

from symbreak.data.dataset import TASKS, DataError, Dataset, build_dataset, check_split_args
from symbreak.settings.registry import MAX_CLASSES, MAX_COLUMNS, MAX_ROWS
from symbreak.settings.values import quote

MAX_INFERRED_CLASSES = 10  # most distinct labels for which "auto" still guesses multiclass
MAX_NAME_LENGTH = 100  # longest column name or class label: each is drawn in every chart's legend and axes

_HEADER_PREFIX = 4096  # characters of a file first searched for its header line

# Cells (compared lower-cased, after stripping) that count as missing values.
_MISSING = frozenset({"", "nan", "na", "n/a", "null"})


def infer_task(y: np.ndarray) -> str:
    """Guess the task from target values: binary, multiclass or regression.

    Exactly 2 distinct values is binary; at most 10 distinct integers, or at most 10 text labels, is
    multiclass; other numbers are regression. More than 10 text labels raises DataError.
    """
    values = np.unique(y)
    if len(values) == 2:
        return "binary"
    if y.dtype.kind not in "biuf":
        if len(values) > MAX_INFERRED_CLASSES:
            raise DataError(
                f"the target has {len(values)} different text labels, too many to guess the task:"
                f" choose 'multiclass' explicitly (up to {MAX_CLASSES} classes) or use a numeric target"
            )
        return "multiclass"
    if len(values) <= MAX_INFERRED_CLASSES and np.all(values == np.round(values)):
        return "multiclass"
    return "regression"


def _read_text(source: str | Path | bytes | IO[bytes] | IO[str], name: str) -> str:
    """Return the whole source as text, decoding bytes as UTF-8 (Latin-1 as a fallback)."""
    if isinstance(source, (str, Path)):
        try:
            raw: bytes | str = Path(source).read_bytes()
        except OSError as exc:
            raise DataError(f"cannot read {str(source)!r}: {exc.strerror or exc}") from exc
    elif isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
    elif hasattr(source, "read"):
        # getvalue() rereads the whole upload even if it was read before (e.g. on a Streamlit rerun).
        try:
            raw = source.getvalue() if hasattr(source, "getvalue") else source.read()
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read {name}: {exc}") from exc
    else:
        raise DataError(f"cannot read {name}: expected a path, bytes or a file, got {type(source).__name__}")
    if isinstance(raw, str):
        return raw.removeprefix("\ufeff")
    if b"\x00" in raw:
        raise DataError(f"{name} is not a text CSV file (it holds binary data): export it as CSV")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _delimiter(text: str) -> str:
    """The most frequent of comma, semicolon and tab in the first non-blank line (comma on a tie).

    The text is split into lines a growing prefix at a time, not whole: the last line of a prefix may be cut
    short, so only the lines before it count until the prefix is the whole text.
    """
    size = _HEADER_PREFIX
    while True:
        lines = text[:size].splitlines()
        whole = size >= len(text)
        header = next((line for line in (lines if whole else lines[:-1]) if line.strip()), None)
        if header is not None:
            return max([",", ";", "\t"], key=header.count)
        size *= 4


def _one_line(message: object) -> str:
    """Collapse a message onto one line."""
    return " ".join(str(message).split())


def _parse_numbers(cells: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse stripped text cells as floats: (values, missing, not_a_number) masks per row."""
    missing = cells.str.lower().isin(_MISSING).to_numpy()
    values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64)
    return values, missing, np.isnan(values) & ~missing


def _feature_column(cells: pd.Series, column: str) -> np.ndarray:
    """Parse one feature column or raise naming the column and first bad data row."""
    values, missing, not_number = _parse_numbers(cells)
    if not_number.any():
        row = int(np.argmax(not_number))
        raise DataError(
            f"column {quote(column)} must be numeric but data row {row + 1} holds {quote(cells.iloc[row])}:"
            " fix the value, drop the column, or make it the target"
        )
    bad = missing | ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"column {quote(column)} has a missing or infinite value (first in data row {row + 1}):"
            " fill in or remove those rows"
        )
    return values


def _format_label(value: object) -> str:
    """A class label as text: integers without '.0', other numbers and strings as written."""
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if value == int(value) else str(float(value))
    return str(value)


def _header(cells: list[str], name: str) -> list[str]:
    """Validate the first row as column names: at least 2 and at most MAX_COLUMNS, named, short and unique.

    Whitespace inside a name (even a quoted newline) collapses to single spaces, so names fit on one line.
    """
    columns = [_one_line(c) for c in cells]
    if len(columns) < 2:
        raise DataError(
            f"{name} has only one column: need at least one feature column and a target column"
            " (separate columns with commas)"
        )
    if len(columns) > MAX_COLUMNS:
        raise DataError(f"{name} has {len(columns)} columns, more than the limit of {MAX_COLUMNS}: drop some")
    for position, column in enumerate(columns, start=1):
        if not column:
            raise DataError(
                f"column {position} has no name in the header row: name every column"
                " (an unnamed first column is often a saved index, so drop it)"
            )
        if len(column) > MAX_NAME_LENGTH:
            raise DataError(
                f"column {position}'s name has {len(column):,} characters, more than the limit of {MAX_NAME_LENGTH}:"
                f" shorten {quote(column)}"
            )
        if columns.count(column) > 1:
            raise DataError(f"column name {quote(column)} appears more than once in the header row: make names unique")
    if not pd.to_numeric(pd.Series(columns), errors="coerce").isna().any():
        raise DataError(f"the first row of {name} holds numbers, not column names: add a header row")
    return columns


def _check_row_count(n_rows: int, name: str) -> None:
    """Refuse fewer than 2 data rows or more than MAX_ROWS."""
    if n_rows > MAX_ROWS:
        raise DataError(f"{name} has more than {MAX_ROWS:,} data rows: use a sample of the data")
    if n_rows < 2:
        raise DataError(f"{name} has {n_rows} data row(s): need at least 2")


def _target_name(target: str, columns: list[str]) -> str:
    """The chosen target column (default: the last one), which must exist."""
    target_name = target.strip() or columns[-1]
    if target_name not in columns:
        raise DataError(f"unknown target column {quote(target_name)}: choose one of {', '.join(columns)}")
    return target_name


@dataclass(frozen=True)
class _Columns:
    """A parsed CSV as the rest of `load_csv` needs it: finite features and the target's values per row."""

    feature_names: tuple[str, ...]
    target_name: str
    x: np.ndarray  # [rows, features], float64, all finite
    numbers: np.ndarray  # the target parsed as floats (NaN where not a number)
    missing: np.ndarray  # target cells that count as missing
    not_number: np.ndarray  # target cells that are text
    cells: pd.Series | None  # the target's stripped text; None when every cell is a number


def _read_careful(text: str, sep: str, name: str, target: str) -> _Columns:
    """Read every cell as text with pandas' C engine, then convert column by column, naming the first bad cell.

    Slow (5 to 10 s for the largest allowed file), so `_read_fast` goes first; this path decides every message.
    """
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            dtype=str,
            na_filter=False,
            skipinitialspace=True,
            nrows=MAX_ROWS + 2,  # header + one row past the limit, so an oversized file is detected cheaply
        )
    except Exception as exc:  # pandas raises many exception types on bad input; all mean "not a usable CSV"
        raise DataError(f"cannot parse {name} as CSV: {_one_line(exc)}") from exc
    columns = _header(list(frame.iloc[0]) if len(frame) else [], name)
    rows = frame.iloc[1:].apply(lambda col: col.str.strip())
    rows.columns = columns
    _check_row_count(len(rows), name)
    target_name = _target_name(target, columns)
    feature_names = tuple(c for c in columns if c != target_name)
    x = np.column_stack([_feature_column(rows[c], c) for c in feature_names])
    cells = rows[target_name]
    return _Columns(feature_names, target_name, x, *_parse_numbers(cells), cells)


# pyarrow's CSV reader keeps every cell: no value stands for a missing one, so the careful path judges those.
_FAST_CONVERT = pa_csv.ConvertOptions(null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False)
# One thread: as fast on two busy cores, and with torch loaded, pyarrow's thread pool sometimes aborted the
# process as it exited ("terminate called without an active exception", exit code 134).
_FAST_READ = pa_csv.ReadOptions(use_threads=False)


def _fast_numbers(column: pa.ChunkedArray) -> np.ndarray | None:
    """A column pyarrow read as numbers, as float64 exactly as `_parse_numbers` reads it; None if it may differ.

    pandas reads an all-integer column as integers, where '-0' is 0.0; pyarrow reads one with an integer past
    int64 as floats, where '-0' is -0.0. An integral float column holding -0.0 is left to the careful path.
    """
    if column.type == pa.int64():
        return column.to_numpy().astype(np.float64)
    if column.type != pa.float64():
        return None
    values = column.to_numpy()
    if not np.isfinite(values).all():
        return None
    negative_zero = np.signbit(values) & (values == 0)
    if negative_zero.any() and (values == np.round(values)).all():
        return None
    return values


def _read_fast(text: str, sep: str, name: str, target: str) -> _Columns | None:
    """Read a clean file with pyarrow's CSV reader; None for any file the careful path must judge.

    Only a file that the careful path would read into the same numbers and labels gets through: numeric
    features, a numeric or text target with no missing cell, and no quote left in a name or label (pandas skips
    spaces before an opening quote, pyarrow keeps them and the quotes as text).
    """
    try:
        table = pa_csv.read_csv(
            io.BytesIO(text.encode()),
            read_options=_FAST_READ,
            parse_options=pa_csv.ParseOptions(delimiter=sep, newlines_in_values=True),
            convert_options=_FAST_CONVERT,
        )
        columns = _header(table.column_names, name)
        _check_row_count(table.num_rows, name)
        target_name = _target_name(target, columns)
    except (pa.ArrowException, DataError):
        return None
    if any('"' in c for c in table.column_names):
        return None
    feature_names = tuple(c for c in columns if c != target_name)
    features = []
    for column, values in zip(columns, table.columns):
        if column != target_name:
            features.append(_fast_numbers(values))
            if features[-1] is None:
                return None
    x = np.empty((table.num_rows, len(features)))
    for j, values in enumerate(features):
        x[:, j] = values
    raw = table.column(columns.index(target_name))
    numbers = _fast_numbers(raw)
    if numbers is not None:
        no = np.zeros(len(numbers), dtype=bool)
        return _Columns(feature_names, target_name, x, numbers, no, no, None)
    if raw.type != pa.string() or pa_compute.any(pa_compute.match_substring(raw, '"')).as_py():
        return None
    cells = pd.Series(raw.to_numpy(zero_copy_only=False), dtype=str).str.strip()
    numbers, missing, not_number = _parse_numbers(cells)
    if missing.any():
        return None
    return _Columns(feature_names, target_name, x, numbers, missing, not_number, cells)


def load_csv(
    source: str | Path | bytes | IO[bytes] | IO[str],
    *,
    name: str = "data.csv",
    target: str = "",
    task: str = "auto",
    standardize: bool = False,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """Load a CSV with a header row, numeric feature columns and a target column (default: the last).

    The task is inferred by `infer_task` unless given; features are used as given unless standardize
    (then scaled with the train split's mean/std). Any problem raises a one-line DataError.
    A clean file is read by pyarrow; any other goes through the careful path that names what is wrong.
    """
    if task != "auto" and task not in TASKS:
        raise DataError(f"unknown task {quote(task)}: choose auto, {', '.join(TASKS)}")
    check_split_args(test_fraction, seed)
    text = _read_text(source, name)
    if not text or text.isspace():
        raise DataError(f"{name} is empty: upload a CSV with a header row and data rows")
    sep = _delimiter(text)
    parsed = _read_fast(text, sep, name, target) or _read_careful(text, sep, name, target)
    feature_names, target_name, x = parsed.feature_names, parsed.target_name, parsed.x
    numbers, missing, not_number, cells = parsed.numbers, parsed.missing, parsed.not_number, parsed.cells
    numeric = not not_number.any()
    bad = missing | (numeric & ~np.isfinite(numbers))
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"target column {quote(target_name)} has a missing{' or infinite' if numeric else ''} value"
            f" (first in data row {row + 1}): fill in or remove those rows"
        )
    raw_y = numbers if numeric else cells.to_numpy(dtype=object)
    values, codes = np.unique(raw_y, return_inverse=True)
    if len(values) < 2:
        raise DataError(
            f"target column {quote(target_name)} has a single value ({quote(_format_label(values[0]))}):"
            " need at least two classes or varying values"
        )

    chosen = infer_task(raw_y) if task == "auto" else task
    if chosen == "regression":
        if not numeric:
            example = cells.iloc[int(np.argmax(not_number))]
            raise DataError(
                f"task 'regression' needs a numeric target, but column {quote(target_name)}"
                f" holds text such as {quote(example)}"
            )
        y, classes = numbers, ()
    else:
        if chosen == "binary" and len(values) != 2:
            raise DataError(
                f"task 'binary' needs exactly 2 classes, but target {quote(target_name)} has {len(values)}:"
                " choose multiclass or regression"
            )
        if len(values) > MAX_CLASSES:
            raise DataError(
                f"target {quote(target_name)} has {len(values)} classes, more than the limit of {MAX_CLASSES}:"
                " choose regression or merge classes"
            )
        classes = tuple(_format_label(v) for v in values)
        longest = max(classes, key=len)
        if len(longest) > MAX_NAME_LENGTH:
            raise DataError(
                f"target {quote(target_name)} has a class label of {len(longest):,} characters, more than the limit"
                f" of {MAX_NAME_LENGTH}: shorten labels such as {quote(longest)}"
            )
        y = codes.astype(np.float64)

    return build_dataset(
        name=name,
        feature_names=feature_names,
        target_name=target_name,
        task=chosen,
        x=x,
        y=y,
        classes=classes,
        description=f"{name}: {len(numbers)} rows, {len(feature_names)} features, predicting {target_name!r}"
        f" ({chosen}).",
        rng=np.random.default_rng(seed),
        test_fraction=test_fraction,
        standardize=standardize,
    )
