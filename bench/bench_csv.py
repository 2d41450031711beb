"""CSV loading speed of the largest allowed file, as a ratio measured side by side in one run.

The file: 100,000 rows x 64 columns (63 features of 7 decimals, a 0/1 label), about 69 MB, the most
`load_csv` accepts. Compared: `load_csv` as it is (pyarrow's reader on a clean file) against its careful
path alone (pandas' C engine reading every cell as text, then converting each column: the loader before
the fast path, still used for any file the fast path leaves to it). Runs alternate, so load on the machine
weighs on both alike; both must give bitwise identical arrays.

    python bench/bench_csv.py
"""

from __future__ import annotations

import io
import statistics
import time
from unittest import mock

import numpy as np

from symbreak.data import csv_files
from symbreak.data.csv_files import load_csv
from symbreak.data.dataset import Dataset
from symbreak.settings.registry import MAX_COLUMNS, MAX_ROWS

REPEATS = 3
TARGET_SECONDS = 2.0


def largest_csv() -> bytes:
    """MAX_ROWS rows of MAX_COLUMNS - 1 normal features written with 7 decimals and a 0/1 label."""
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (MAX_ROWS, MAX_COLUMNS - 1))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    out = io.StringIO()
    out.write(",".join([*(f"f{j}" for j in range(MAX_COLUMNS - 1)), "label"]) + "\n")
    np.savetxt(out, np.column_stack([x, y]), fmt=["%.7f"] * (MAX_COLUMNS - 1) + ["%d"], delimiter=",")
    return out.getvalue().encode()


def timed(load) -> tuple[float, Dataset]:
    """Seconds one call of load takes, and what it returned."""
    start = time.perf_counter()
    dataset = load()
    return time.perf_counter() - start, dataset


def main() -> None:
    raw = largest_csv()
    print(f"file: {MAX_ROWS:,} rows x {MAX_COLUMNS} columns, {len(raw) / 1e6:.1f} MB; {REPEATS} runs each, alternating")

    def careful() -> Dataset:
        with mock.patch.object(csv_files, "_read_fast", return_value=None):
            return load_csv(raw)

    fast_times, careful_times = [], []
    for _ in range(REPEATS):
        seconds, fast_ds = timed(lambda: load_csv(raw))
        fast_times.append(seconds)
        seconds, careful_ds = timed(careful)
        careful_times.append(seconds)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        if getattr(fast_ds, field).tobytes() != getattr(careful_ds, field).tobytes():
            raise SystemExit(f"{field} differs between the two paths")
    with mock.patch.object(csv_files, "_read_careful", side_effect=AssertionError("the fast path fell back")):
        load_csv(raw)
    fast, slow = statistics.median(fast_times), statistics.median(careful_times)
    print(f"load_csv (pyarrow fast path): median {fast:.2f} s  (runs {', '.join(f'{t:.2f}' for t in fast_times)})")
    print(f"careful path alone (before):  median {slow:.2f} s  (runs {', '.join(f'{t:.2f}' for t in careful_times)})")
    print(f"ratio careful / fast: {slow / fast:.1f}x faster; arrays bitwise identical")
    print(f"target: at most {TARGET_SECONDS:g} s -> {'met' if fast <= TARGET_SECONDS else 'NOT met'}")


if __name__ == "__main__":
    main()
