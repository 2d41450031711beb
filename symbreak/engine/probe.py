"""A network probed over its input space: the arrays the input-plane figures draw.

The page (or a lesson) calls `probe` with the network's forward pass, e.g.
`functools.partial(trainer.layer_outputs, row=row, run=run)`, or `of_run` with
the trainer itself, and hands the result to `figures.activation_maps_figure`
and `figures.decision_figure`, so no figure needs a trainer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import numpy as np

from symbreak.data.dataset import Dataset

PLANE_RESOLUTION = 48  # points per side of a 2-input plane
LINE_POINTS = 200  # points along a 1-input line
MARGIN = 0.1  # of the data's range, on each side of a plane


@dataclass(frozen=True)
class Probe:
    """Each layer's outputs over a grid of inputs: a line (1 input) or a plane (2 inputs)."""

    xs: np.ndarray                  # [X] values of the first input
    ys: np.ndarray | None           # [Y] values of the second input; None along a line
    layers: tuple[np.ndarray, ...]  # each hidden layer's activations [M, width], then the prediction [M, n_out]

    @property
    def prediction(self) -> np.ndarray:
        """The network's output [M, n_out]: a probability (binary), class probabilities, or the value."""
        return self.layers[-1]


def plane_grid(x: np.ndarray, resolution: int = PLANE_RESOLUTION) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xs, ys, points [res², 2], rows along ys) covering 2-input data x [N, 2] with a margin."""
    low, high = x.min(axis=0), x.max(axis=0)
    pad = MARGIN * np.where(high > low, high - low, 1.0)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([gx.ravel(), gy.ravel()])


def line_grid(x: np.ndarray, points: int = LINE_POINTS) -> np.ndarray:
    """Evenly spaced values [points] from the smallest to the largest of 1-input data x [N, 1]."""
    return np.linspace(x[:, 0].min(), x[:, 0].max(), points)


def probe(forward: Callable[[np.ndarray], Sequence[np.ndarray]], x: np.ndarray,
          resolution: int = PLANE_RESOLUTION) -> Probe:
    """The outputs of `forward` (inputs [M, d] → each layer's outputs) over the input space of data x [N, d].

    One input: a line over the data's range. Two: a resolution × resolution plane with a margin.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] not in (1, 2):
        raise ValueError(f"probe: the data must have 1 or 2 input columns, not shape {x.shape}")
    if x.shape[1] == 1:
        xs = line_grid(x)
        return Probe(xs, None, tuple(forward(xs[:, None])))
    xs, ys, points = plane_grid(x, resolution)
    return Probe(xs, ys, tuple(forward(points)))


class Network(Protocol):
    """What `of_run` reads of a trainer: its data and its forward pass at a history row."""

    dataset: Dataset

    def layer_outputs(self, x: np.ndarray, row: int | None = None, run: int = 0) -> list[np.ndarray]: ...


def of_run(network: Network, row: int | None = None, run: int = 0, resolution: int = PLANE_RESOLUTION) -> Probe:
    """`probe` of one run at history row `row` (default: its current weights) over its dataset's inputs."""
    data = network.dataset
    return probe(partial(network.layer_outputs, row=row, run=run), np.concatenate([data.x_train, data.x_test]),
                 resolution)
