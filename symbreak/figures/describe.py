"""Words and tables for what the charts show, for a reader who cannot see them.

`run_sentence` is the one line a screen reader speaks as a run trains (the
live chart's text alternative); `weights_table` is the "Data" view behind the
live chart: each neuron's weights now, and which neurons are still tied.
Pure functions of the history, tested without a browser, like the figures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from symbreak.engine.history import History
from symbreak.engine.metrics import groups
from symbreak.figures.parts import clamp_row, input_names


def _number(value: float) -> str:
    """A gap or a loss in two significant figures ('0.013', '3.1e-08'), or 'not finite'."""
    return f"{value:.2g}" if np.isfinite(value) else "not finite"


def run_sentence(history: History, layer: int = 0, run: int = 0, row: int | None = None, tol: float = 1e-6) -> str:
    """One line on the run at one row: the step, whether the layer's neurons are tied or split (and into how
    many groups), the largest gap and the training loss, e.g. 'Step 0: 8 neurons, all tied, gap exactly 0;
    loss 0.52' or 'Step 40: the 8 neurons split into 3 groups; largest gap 0.013; loss 0.47'."""
    row = clamp_row(history, row)
    n = history.layout.slices[layer][2]
    gaps, counts = history.symmetry(layer, run, tol)
    step = int(history.steps[row]) if history.count else 0
    largest = float(gaps[row]) if history.count else 0.0
    count = int(counts[row]) if history.count else 1
    if n == 1:
        state = "1 neuron, nothing to compare it with"
    elif largest == 0.0:
        state = f"{n} neurons, all tied, gap exactly 0"
    elif count == 1:
        state = f"{n} neurons, all tied within the tolerance {tol:g}; largest gap {_number(largest)}"
    elif count == n:
        state = f"all {n} neurons split apart; largest gap {_number(largest)}"
    else:
        state = f"the {n} neurons split into {count} groups; largest gap {_number(largest)}"
    loss = float(history.metric("train_loss", run)[row]) if history.count else float("nan")
    return f"Step {step:,}: {state}; loss {_number(loss)}"


def pruned_sentence(history: History, run: int = 0) -> str:
    """'12 of 40 weights pruned' when a mask prunes some of the run's weights, else ''."""
    total = sum(o * i for _, _, o, i in history.layout.slices)
    cut = 0 if history.pruned is None else int(history.pruned[run].sum())  # biases are never pruned
    return f"{cut:,} of {total:,} weights pruned" if cut else ""


def cut_off_sentence(history: History, layer: int = 0, run: int = 0) -> str:
    """'19 neurons have no weight left coming in' for a hidden layer whose mask prunes every incoming weight of
    some neurons (alike, they count as tied), else ''."""
    cut_off = int(history.pruned_weights(layer, run).all(axis=1).sum())
    if not cut_off or layer == history.layout.n_layers - 1:
        return ""
    return f"{cut_off} {'neuron has' if cut_off == 1 else 'neurons have'} no weight left coming in"


def group_offsets(history: History, layer: int = 0, run: int = 0, row: int | None = None,
                  tol: float = 1e-6) -> list[float]:
    """One number per group of tied neurons (ordered by first member): how far the group sits from the layer's
    mean, as the sum of its weights and bias minus the mean of those sums. The sound of the live chart plays
    one tone per group, its pitch following this: tied neurons are one note, a split parts it into a chord."""
    row = clamp_row(history, row)
    vectors = history.neuron_vectors(layer, run)[row]
    sums = vectors.sum(axis=1)
    return [float(sums[members[0]] - sums.mean()) for members in groups(vectors, tol)]


def weights_table(history: History, layer: int = 0, run: int = 0, row: int | None = None, tol: float = 1e-6,
                  names: Sequence[str] | None = None) -> pd.DataFrame:
    """The layer's neurons at one row, one per table row (n1, n2, …): each incoming weight, the bias, and the
    group of tied neurons it belongs to (1 for the group of neuron 1, and so on)."""
    row = clamp_row(history, row)
    vectors = history.neuron_vectors(layer, run)[row]
    group = np.zeros(len(vectors), dtype=int)
    for number, members in enumerate(groups(vectors, tol), start=1):
        group[members] = number
    given = layer == 0 and names is not None and len(names) == vectors.shape[1] - 1
    columns = [*([str(name) for name in names] if given else input_names(history, layer)), "bias"]
    table = pd.DataFrame(vectors, columns=columns, index=[f"n{i + 1}" for i in range(len(vectors))])
    table.index.name = "neuron"
    table["tied group"] = group
    return table
