"""The built-in toy problems: coffee roasting, product demand and seven geometric sets, deterministic for a seed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from symbreak.data.dataset import DataError, Dataset, build_dataset, check_split_args
from symbreak.settings.registry import MAX_NOISE, MAX_ROWS, MIN_SAMPLES
from symbreak.settings.values import quote


def coffee_label(temperature: np.ndarray | float, duration: np.ndarray | float) -> np.ndarray:
    """1 where a roast at temperature (°C) for duration (min) is good, else 0 (the classic lab's rule).

    Good means 175 < T < 260, 12 < d < 15 and d <= 21 - 3T/85: hotter roasts must be shorter.
    """
    t = np.asarray(temperature, dtype=np.float64)
    d = np.asarray(duration, dtype=np.float64)
    good = (t > 175) & (t < 260) & (d > 12) & (d < 15) & (d <= 21 - 3 * t / 85)
    return good.astype(np.float64)


def _flip(rng: np.random.Generator, y: np.ndarray, probability: float) -> np.ndarray:
    """Flip each 0/1 label with the given probability (label noise)."""
    return np.where(rng.random(len(y)) < probability, 1.0 - y, y)


def _class_sizes(n: int, k: int) -> np.ndarray:
    """Split n samples into k near-equal class sizes."""
    return np.full(k, n // k) + (np.arange(k) < n % k)


def _gen_coffee(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Uniform roasts labelled by `coffee_label`, a fraction noise/2 of labels flipped."""
    x = np.column_stack([rng.uniform(150, 285, n), rng.uniform(11.5, 15.5, n)])
    return x, _flip(rng, coffee_label(x[:, 0], x[:, 1]), noise / 2)


def _gen_demand(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Top seller when at least two of affordability, awareness and perceived quality are high.

    Affordable: price + shipping < 35; aware: marketing > 50; quality: material + price/10 > 8.25
    (a high price signals quality). Each is high about half the time; noise/2 of labels flipped.
    """
    price = rng.uniform(5, 50, n)
    shipping = rng.uniform(0, 15, n)
    marketing = rng.uniform(0, 100, n)
    material = rng.uniform(1, 10, n)
    votes = (
        (price + shipping < 35).astype(int)
        + (marketing > 50).astype(int)
        + (material + price / 10 > 8.25).astype(int)
    )
    x = np.column_stack([price, shipping, marketing, material])
    return x, _flip(rng, (votes >= 2).astype(np.float64), noise / 2)


def _gen_xor(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Uniform square, class 1 where the coordinates have opposite signs, jitter sd noise/2."""
    x = rng.uniform(-1, 1, (n, 2))
    y = ((x[:, 0] > 0) != (x[:, 1] > 0)).astype(np.float64)
    return x + rng.normal(0, noise / 2, x.shape), y


def _polar(radius: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Points at the given radii and angles as an [n, 2] array."""
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])


def _gen_circles(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Class 0 fills a disc of radius 0.5, class 1 a ring from 0.8 to 1.2; jitter sd noise/2."""
    n0, n1 = _class_sizes(n, 2)
    radius = np.concatenate([0.5 * np.sqrt(rng.random(n0)), rng.uniform(0.8, 1.2, n1)])
    x = _polar(radius, rng.uniform(0, 2 * np.pi, n))
    y = np.repeat([0.0, 1.0], [n0, n1])
    return x + rng.normal(0, noise / 2, x.shape), y


def _gen_moons(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (as scikit-learn's make_moons); jitter sd noise."""
    n0, n1 = _class_sizes(n, 2)
    a0, a1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, n1)
    upper = np.column_stack([np.cos(a0), np.sin(a0)])
    lower = np.column_stack([1 - np.cos(a1), 0.5 - np.sin(a1)])
    x = np.vstack([upper, lower])
    y = np.repeat([0.0, 1.0], [n0, n1])
    return x + rng.normal(0, noise, x.shape), y


def _gen_spiral(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Two arms winding 1.25 turns outwards, half a turn apart; jitter sd 0.3*noise."""
    sizes = _class_sizes(n, 2)
    y = np.repeat([0.0, 1.0], sizes)
    t = rng.random(n)
    x = _polar(0.2 + 0.8 * t, 2.5 * np.pi * t + np.pi * y)
    return x + rng.normal(0, 0.3 * noise, x.shape), y


def _gen_clusters(
    rng: np.random.Generator, n: int, noise: float, centers: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One Gaussian cluster per center, sd 0.5 + 1.5*noise (heavily overlapping at noise 1)."""
    sizes = _class_sizes(n, len(centers))
    y = np.repeat(np.arange(len(centers), dtype=np.float64), sizes)
    x = centers[y.astype(int)] + rng.normal(0, 0.5 + 1.5 * noise, (n, 2))
    return x, y


def _gen_gaussians(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Two clusters centred at (-1, -1) and (1, 1)."""
    return _gen_clusters(rng, n, noise, np.array([[-1.0, -1.0], [1.0, 1.0]]))


def _gen_blobs3(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Three clusters on a circle of radius 2, 120 degrees apart."""
    angles = np.deg2rad([90.0, 210.0, 330.0])
    return _gen_clusters(rng, n, noise, _polar(np.full(3, 2.0), angles))


def _gen_sine(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """x uniform in [-3, 3], y = sin(x) + noise * N(0, 1)."""
    x = rng.uniform(-3, 3, n)
    return x[:, None], np.sin(x) + noise * rng.normal(0, 1, n)


@dataclass(frozen=True)
class _Spec:
    """How to generate one built-in dataset and what to call its parts."""

    generate: Callable[[np.random.Generator, int, float], tuple[np.ndarray, np.ndarray]]
    feature_names: tuple[str, ...]
    target_name: str
    task: str
    classes: tuple[str, ...]
    description: str


_XY = ("x1", "x2")
_01 = ("0", "1")
_SPECS: dict[str, _Spec] = {
    "coffee": _Spec(
        _gen_coffee, ("temperature (°C)", "duration (min)"), "good roast", "binary", ("bad", "good"),
        "Coffee roasting: a roast is good only inside a triangular band of temperature and duration.",
    ),
    "demand": _Spec(
        _gen_demand, ("price", "shipping cost", "marketing", "material quality"), "top seller", "binary",
        ("no", "yes"),
        "Product demand: a top seller needs two of affordability, awareness and perceived quality.",
    ),
    "xor": _Spec(
        _gen_xor, _XY, "class", "binary", _01,
        "XOR: opposite quadrants share a class, so no straight line separates them.",
    ),
    "circles": _Spec(
        _gen_circles, _XY, "class", "binary", _01, "Circles: an inner disc surrounded by a ring of the other class."
    ),
    "moons": _Spec(_gen_moons, _XY, "class", "binary", _01, "Moons: two interleaving half circles."),
    "spiral": _Spec(_gen_spiral, _XY, "class", "binary", _01, "Spiral: two intertwined arms, one per class."),
    "gaussians": _Spec(
        _gen_gaussians, _XY, "class", "binary", _01,
        "Gaussians: two overlapping clusters that a straight line nearly separates.",
    ),
    "blobs3": _Spec(
        _gen_blobs3, _XY, "class", "multiclass", ("0", "1", "2"), "Three blobs: three Gaussian clusters, one per class."
    ),
    "sine": _Spec(
        _gen_sine, ("x",), "y", "regression", (),
        "Sine: regress y = sin(x) plus noise (x is standardized, y is left as is).",
    ),
}

BUILTINS: dict[str, str] = {name: spec.description for name, spec in _SPECS.items()}


def make_builtin(
    name: str, n_samples: int = 400, noise: float = 0.1, test_fraction: float = 0.2, seed: int = 0
) -> Dataset:
    """Generate a built-in dataset, deterministic for a seed, with train-standardized features.

    noise (0..1) flips noise/2 of the labels for coffee and demand, and scales Gaussian jitter
    (or cluster spread) for the geometric sets and the sine targets.
    """
    if name not in _SPECS:
        raise DataError(f"unknown dataset {quote(name)}: choose one of {', '.join(_SPECS)}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or not (
        MIN_SAMPLES <= n_samples <= MAX_ROWS
    ):
        raise DataError(f"n_samples must be an integer from {MIN_SAMPLES} to {MAX_ROWS:,}, got {quote(n_samples)}")
    if not 0.0 <= noise <= MAX_NOISE:
        raise DataError(f"noise must be between 0 and {MAX_NOISE:g}, got {noise}")
    check_split_args(test_fraction, seed)
    spec = _SPECS[name]
    rng = np.random.default_rng(seed)
    x, y = spec.generate(rng, int(n_samples), float(noise))
    # Random labelling (coffee, demand) can miss a class on tiny samples: draw again until all appear.
    while spec.classes and len(np.unique(y)) < len(spec.classes):
        x, y = spec.generate(rng, int(n_samples), float(noise))
    return build_dataset(
        name=name,
        feature_names=spec.feature_names,
        target_name=spec.target_name,
        task=spec.task,
        x=x,
        y=y,
        classes=spec.classes,
        description=spec.description,
        rng=rng,
        test_fraction=test_fraction,
        standardize=True,
    )
