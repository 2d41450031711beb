"""A dataset for the app: the `Dataset` every source arrives as, and the split and scaling they share.

Everything arrives as a `Dataset` of float64 arrays split into train and test; every problem with the
input surfaces as a one-line `DataError` the UI can show as is. The sources are the built-in toy problems
(`builtin_data`) and the user's CSV files (`csv_data`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symbreak.settings.registry import MAX_TEST_FRACTION
from symbreak.settings.values import quote

TASKS = ("binary", "multiclass", "regression")


class DataError(ValueError):
    """A one-line message, for the user, naming what is wrong with the data and what to change."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split ready for training; eq=False so instances compare and hash by identity."""

    name: str
    feature_names: tuple[str, ...]
    target_name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    description: str = ""

    @property
    def n_features(self) -> int:
        """Number of input columns."""
        return int(self.x_train.shape[1])

    @property
    def n_outputs(self) -> int:
        """Output units a network needs: one per class for multiclass, else one."""
        return len(self.classes) if self.task == "multiclass" else 1


# ---------------------------------------------------------------------------------------------
# Shared split / scaling helpers


def check_split_args(test_fraction: float, seed: int) -> None:
    """Reject a test fraction outside [0, MAX_TEST_FRACTION] or a seed numpy cannot use."""
    if not 0.0 <= test_fraction <= MAX_TEST_FRACTION:
        raise DataError(f"test_fraction must be between 0 and {MAX_TEST_FRACTION}, got {test_fraction}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be a non-negative integer, got {quote(seed)}")


def _split(
    rng: np.random.Generator, n: int, n_test: int, labels: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle rows into (train, test) indices; with labels, swap rows so every class is in train.

    Callers guarantee n - n_test >= number of classes, so a swap partner always exists.
    """
    order = rng.permutation(n)
    test, train = order[:n_test], order[n_test:]
    if labels is not None:
        for cls in np.unique(labels):
            if (labels[train] == cls).any():
                continue
            i = np.flatnonzero(labels[test] == cls)[0]
            counts = np.bincount(labels[train], minlength=int(labels.max()) + 1)
            j = np.flatnonzero(counts[labels[train]] > 1)[0]
            train[j], test[i] = test[i], train[j]
    return train, test


def _standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale both splits with the train mean/std (std 1 for a constant column) so no test info leaks.

    Each column is first scaled by a power of two that brings its largest train value below 1: exact, and it
    leaves the result unchanged, but a column of values near the float64 limit (1e308) no longer overflows.
    """
    _, exponent = np.frexp(np.abs(x_train).max(axis=0))
    power = np.ldexp(1.0, -exponent)
    x_train, x_test = x_train * power, x_test * power
    mean = x_train.mean(axis=0)
    # Test constancy exactly: a constant column's float std can come out as ~1e-17 rather than 0.
    std = np.where(np.ptp(x_train, axis=0) == 0, 1.0, x_train.std(axis=0))
    return (x_train - mean) / std, (x_test - mean) / std


def build_dataset(
    *,
    name: str,
    feature_names: tuple[str, ...],
    target_name: str,
    task: str,
    x: np.ndarray,
    y: np.ndarray,
    classes: tuple[str, ...],
    description: str,
    rng: np.random.Generator,
    test_fraction: float,
    standardize: bool,
) -> Dataset:
    """Split (every class kept in train), optionally standardize, and pack float64 C-contiguous arrays."""
    n = len(y)
    n_test = round(n * test_fraction)
    n_train = n - n_test
    if n_train < 2:
        raise DataError(
            f"only {n_train} training row(s) left after holding out {n_test} for testing:"
            " need at least 2, so add rows or lower the test fraction"
        )
    labels = None
    if task != "regression":
        labels = y.astype(np.int64)
        if n_train < len(classes):
            raise DataError(
                f"only {n_train} training rows for {len(classes)} classes: every class needs a training row,"
                " so add rows or lower the test fraction"
            )
    train, test = _split(rng, n, n_test, labels)
    x_train, x_test = x[train], x[test]
    if standardize:
        x_train, x_test = _standardize(x_train, x_test)

    def f64(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.float64)

    return Dataset(
        name=name,
        feature_names=feature_names,
        target_name=target_name,
        task=task,
        x_train=f64(x_train),
        y_train=f64(y[train]),
        x_test=f64(x_test),
        y_test=f64(y[test]),
        classes=classes,
        description=description,
    )
