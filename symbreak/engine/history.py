"""Preallocated, bounded recording of every parameter, gradient and loss over steps.

Row r holds the state after `steps[r]` updates: the parameters, the gradient
of the update that led there (zeros at step 0), and the train and test loss
and accuracy at those parameters. When the buffer is full, every other row is
dropped and the recording stride doubles, so memory never grows past the cap
and the rows stay spread over the whole run. The last step taken is always
recorded, as a "tail" row that the next record replaces if it is off-stride.
Each row's symmetry metrics are computed once and kept beside it, so a redraw
after N more steps computes N rows, not the whole history again.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from symbreak.engine.metrics import symmetry_series
from symbreak.engine.model import Layout

DEFAULT_BUDGET_BYTES = 96 * 2**20
MIN_ROWS, MAX_ROWS = 64, 4096
METRIC_NAMES = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")
COLUMN = {name: column for column, name in enumerate(METRIC_NAMES)}  # each metric's column in `metrics`


class _Symmetry:
    """Gap and distinct count of one layer's neurons per recorded row; rows [0, valid) are up to date."""

    def __init__(self, capacity: int) -> None:
        self.gap = np.zeros(capacity)
        self.distinct = np.zeros(capacity, dtype=np.int64)
        self.valid = 0


class History:
    """Recorded rows for K runs that share one parameter layout (and which weights each run prunes, if any)."""

    def __init__(self, layout: Layout, k: int, dtype: torch.dtype, max_rows: int | None = None,
                 budget_bytes: int = DEFAULT_BUDGET_BYTES, pruned: torch.Tensor | None = None) -> None:
        self.layout = layout
        self.k = k
        self.pruned = pruned  # bool [K, P]: the weights held at 0.0 (a mask), or None
        itemsize = torch.finfo(dtype).bits // 8
        per_row = k * (2 * layout.n_params + len(METRIC_NAMES)) * itemsize + 8
        fits = max(MIN_ROWS, min(MAX_ROWS, budget_bytes // per_row))
        rows = max_rows if max_rows is not None else fits
        self.capacity = max(4, rows - rows % 2)
        self.width = k * (2 * layout.n_params + len(METRIC_NAMES))
        self.rows = torch.zeros(self.capacity, self.width, dtype=dtype)  # each row: grads, params, metrics
        self.grads, self.params, self.metrics = self.split(self.rows)
        self.metrics.fill_(float("nan"))
        self.step_index = np.zeros(self.capacity, dtype=np.int64)
        self.clear()

    def clear(self) -> None:
        """Forget every row (used by reset)."""
        self.count = 0
        self.stride = 1
        self.tail = False
        self.version = 0
        self._symmetry: dict[tuple[int, int, float], _Symmetry] = {}

    @property
    def nbytes(self) -> int:
        return self.params.nbytes + self.grads.nbytes + self.metrics.nbytes + self.step_index.nbytes

    def split(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(grads [.., k, P], params [.., k, P], metrics [.., 4, k]) views of rows [.., width] laid out as `rows`."""
        lead, k, n_params = rows.shape[:-1], self.k, self.layout.n_params
        return (rows[..., : k * n_params].view(*lead, k, n_params),
                rows[..., k * n_params: 2 * k * n_params].view(*lead, k, n_params),
                rows[..., 2 * k * n_params:].view(*lead, len(METRIC_NAMES), k))

    def wants(self, step: int) -> bool:
        """Whether `step` falls on the recording stride."""
        return step % self.stride == 0

    def record(self, step: int, params: torch.Tensor, grads: torch.Tensor, metrics: torch.Tensor,
               on_stride: bool, row: torch.Tensor | None = None) -> None:
        """Write one row; an off-stride row is kept only until the next record.

        `row` [width], if given, holds grads, params and metrics laid out as a row (`split`) and is written
        whole in their place."""
        if self.tail:
            self.count -= 1
        if self.count == self.capacity:
            self._thin()
            if not self.wants(step) and on_stride:
                on_stride = False
        count = self.count
        for series in self._symmetry.values():
            series.valid = min(series.valid, count)
        if row is not None:
            self.rows[count].copy_(row)
        else:
            self.params[count].copy_(params)
            self.grads[count].copy_(grads)
            self.metrics[count].copy_(metrics)
        self.step_index[count] = step
        self.count += 1
        self.tail = not on_stride
        self.version += 1

    def _thin(self) -> None:
        keep = slice(0, self.count, 2)
        half = len(range(*keep.indices(self.count)))
        self.rows[:half] = self.rows[keep].clone()
        self.step_index[:half] = self.step_index[keep].copy()
        for series in self._symmetry.values():
            series.gap[:half] = series.gap[keep].copy()
            series.distinct[:half] = series.distinct[keep].copy()
            series.valid = min(half, (series.valid + 1) // 2)  # old row 2i is new row i
        self.count = half
        self.stride *= 2

    # Views for analysis: numpy arrays over the recorded rows only.
    @property
    def steps(self) -> np.ndarray:
        return self.step_index[: self.count].copy()

    def metric(self, name: str, run: int = 0) -> np.ndarray:
        """One metric over the recorded rows for one run."""
        return self.metrics[: self.count, COLUMN[name], run].double().numpy().copy()

    def layer_params(self, layer: int, run: int = 0, grads: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(weight [T, out, in], bias [T, out]) of one layer over the recorded rows."""
        source = self.grads if grads else self.params
        weight, bias = self.layout.views(source[: self.count, run])[layer]
        return weight.double().numpy().copy(), bias.double().numpy().copy()

    def neuron_vectors(self, layer: int, run: int = 0, grads: bool = False, start: int = 0) -> np.ndarray:
        """Each neuron's incoming weights then bias: [T, out, in + 1] (the rows from `start` on)."""
        source = self.grads if grads else self.params
        weight, bias = self.layout.views(source[start: self.count, run])[layer]
        return torch.cat([weight, bias.unsqueeze(-1)], dim=-1).double().numpy()

    def pruned_weights(self, layer: int, run: int = 0) -> np.ndarray:
        """Which of one layer's weights the run prunes, as bool [out, in] (all False without a mask)."""
        _, _, fan_out, fan_in = self.layout.slices[layer]
        if self.pruned is None:
            return np.zeros((fan_out, fan_in), dtype=bool)
        return self.layout.views(self.pruned[run])[layer][0].numpy().copy()

    def symmetry(self, layer: int, run: int = 0, tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
        """(gap [T], distinct [T]) of one layer's neurons at every recorded row, as `metrics.symmetry_series`
        gives them; a row is computed the first time it is asked for, and kept until it is written again."""
        key = (layer, run, float(tol))
        series = self._symmetry.setdefault(key, _Symmetry(self.capacity))
        if series.valid < self.count:
            gap, distinct = symmetry_series(self.neuron_vectors(layer, run, start=series.valid), tol)
            series.gap[series.valid: self.count] = gap
            series.distinct[series.valid: self.count] = distinct
            series.valid = self.count
        return series.gap[: self.count].copy(), series.distinct[: self.count].copy()

    def last_finite(self, run: int) -> int | None:
        """The last recorded row where `run`'s parameters and train loss are finite, or None."""
        finite = torch.isfinite(self.params[: self.count, run]).all(-1)
        finite &= torch.isfinite(self.metrics[: self.count, COLUMN["train_loss"], run])
        rows = torch.nonzero(finite).flatten().tolist()
        return rows[-1] if rows else None

    def row_of_step(self, step: int) -> int:
        """The recorded row nearest to `step`."""
        steps = self.steps
        return int(np.abs(steps - step).argmin()) if len(steps) else 0

    def to_frame(self, run: int = 0, input_names: list[str] | None = None) -> pd.DataFrame:
        """Tidy long format: step, layer, neuron, source, value, gradient (one row per parameter)."""
        frames = []
        steps = self.steps
        for layer, (_, _, fan_out, fan_in) in enumerate(self.layout.slices):
            values = self.neuron_vectors(layer, run)
            grads = self.neuron_vectors(layer, run, grads=True)
            if layer == 0 and input_names:
                sources = list(input_names) + ["bias"]
            else:
                prefix = "x" if layer == 0 else f"h{layer}_"
                sources = [f"{prefix}{i + 1}" for i in range(fan_in)] + ["bias"]
            t, o, s = np.meshgrid(np.arange(len(steps)), np.arange(fan_out), np.arange(fan_in + 1), indexing="ij")
            frames.append(pd.DataFrame({
                "step": steps[t.ravel()],
                "layer": layer + 1,
                "neuron": o.ravel() + 1,
                "source": np.asarray(sources, dtype=object)[s.ravel()],
                "value": values.ravel(),
                "gradient": grads.ravel(),
            }))
        return pd.concat(frames, ignore_index=True)

    def metrics_frame(self, run: int = 0) -> pd.DataFrame:
        """Loss and accuracy per recorded step."""
        data = {"step": self.steps}
        for name in METRIC_NAMES:
            data[name] = self.metric(name, run)
        return pd.DataFrame(data)
