"""Symmetry metrics over neurons: gap, distinct groups, pairwise distances.

A neuron is the vector of its incoming weights and its bias. Distances are
computed from elementwise differences (never a Gram-matrix shortcut), so two
identical neurons are at distance exactly 0.0.
"""

from __future__ import annotations

import functools

import numpy as np

CHUNK_ROWS = 64


def pairwise_distances(vectors: np.ndarray) -> np.ndarray:
    """Euclidean distances [..., n, n] between the neurons of vectors [..., n, d]."""
    diff = vectors[..., :, None, :] - vectors[..., None, :, :]
    return np.sqrt((diff * diff).sum(-1))


def pairwise_max_abs(vectors: np.ndarray) -> np.ndarray:
    """Largest absolute parameter difference [..., n, n] between each pair of neurons."""
    return np.abs(vectors[..., :, None, :] - vectors[..., None, :, :]).max(-1)


def _chunked(fn, vectors: np.ndarray) -> np.ndarray:
    if vectors.ndim == 2:
        return fn(vectors)
    return np.concatenate([fn(vectors[s: s + CHUNK_ROWS]) for s in range(0, len(vectors), CHUNK_ROWS)])


def gap(vectors: np.ndarray) -> np.ndarray | float:
    """The largest distance between two neurons, per leading index (0.0 for one neuron)."""
    result = _chunked(lambda v: pairwise_distances(v).max(axis=(-1, -2)), vectors)
    return float(result) if np.ndim(result) == 0 else result


def _labels_from_adjacency(adjacent: np.ndarray) -> np.ndarray:
    """Connected-component labels [..., n]: each neuron's smallest reachable index."""
    n = adjacent.shape[-1]
    reach = adjacent | np.eye(n, dtype=bool)
    for _ in range(max(1, int(np.ceil(np.log2(max(n, 2)))))):
        reach = (reach.astype(np.int32) @ reach.astype(np.int32)) > 0
    return reach.argmax(-1)


def group_labels(vectors: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Group index per neuron [..., n]; neurons chain into one group when each pair step is within tol.

    tol = 0 means bitwise equality (a difference of exactly zero).
    """
    return _chunked(lambda v: _labels_from_adjacency(pairwise_max_abs(v) <= tol), vectors)


def distinct(vectors: np.ndarray, tol: float = 1e-6) -> np.ndarray | int:
    """How many groups of equal neurons there are, per leading index."""
    labels = group_labels(vectors, tol)
    counts = (labels == np.arange(labels.shape[-1])).sum(-1)
    return int(counts) if np.ndim(counts) == 0 else counts


# Pair differences `groups` computes at once (about 8 MB of float64).
GROUP_CHUNK_ELEMENTS = 1 << 20


@functools.lru_cache(maxsize=64)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The index pairs i < j of n neurons, row by row (numpy's triu_indices costs more than the rest here)."""
    return np.triu_indices(n, 1)


def groups(vectors: np.ndarray, tol: float = 1e-6) -> list[list[int]]:
    """The groups of neurons equal within tol, as lists of neuron indices (0-based), ordered by first member.

    vectors is one step's neurons [n, d] or several steps' [T, n, d]; over several steps two neurons are
    tied when they are within tol at every step. Tied pairs chain into one group, as in `group_labels`.
    Each pair's largest difference is taken once, over all steps, one chunk of steps at a time.
    """
    rows = vectors[None] if vectors.ndim == 2 else vectors
    n = rows.shape[1]
    first, second = _pairs(n)
    worst = np.zeros(len(first))
    chunk = max(1, GROUP_CHUNK_ELEMENTS // max(1, len(first) * rows.shape[2]))
    for start in range(0, len(rows), chunk):
        part = rows[start: start + chunk]
        worst = np.maximum(worst, np.abs(part[:, first] - part[:, second]).max(axis=(0, 2), initial=0.0))
    label = list(range(n))  # each neuron's group: the smallest index in it
    tied = worst <= tol
    for i, j in zip(first[tied].tolist(), second[tied].tolist()):
        if label[i] != label[j]:
            old, new = max(label[i], label[j]), min(label[i], label[j])
            label = [new if x == old else x for x in label]
    found: dict[int, list[int]] = {}
    for neuron, group in enumerate(label):
        found.setdefault(group, []).append(neuron)
    return list(found.values())


def symmetry_series(vectors: np.ndarray, tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """(gap [T], distinct [T]) for one layer's neurons over recorded steps [T, n, d]."""
    return np.atleast_1d(gap(vectors)), np.atleast_1d(distinct(vectors, tol))
