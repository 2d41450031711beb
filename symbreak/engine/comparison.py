"""Compare: two to four configurations on the same data and seed, trained side by side."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from symbreak.data.dataset import Dataset
from symbreak.engine.metrics import distinct, gap
from symbreak.engine.trainer import Trainer, run_side_by_side
from symbreak.settings.config import Config
from symbreak.settings.presets import preset

COMPARE_DEFAULT = ("constant", "constant-dropout")
MAX_COMPARE = 4


class Comparison:
    """Two to four configurations on the same data and seed, batched where they are compatible."""

    def __init__(self, configs: Sequence[Config], names: Sequence[str] | None = None,
                 dataset: Dataset | None = None) -> None:
        if not 1 <= len(configs) <= MAX_COMPARE:
            raise ValueError(f"compare: choose between 1 and {MAX_COMPARE} configurations (got {len(configs)})")
        if len({c.data for c in configs}) > 1 or len({c.seed for c in configs}) > 1:
            raise ValueError("compare: the configurations must share their data settings and seed")
        self.configs = list(configs)
        self.names = list(names) if names is not None else [f"run {i + 1}" for i in range(len(configs))]
        self.placement = run_side_by_side(self.configs, dataset=dataset)

    @staticmethod
    def preset_configs(names: Sequence[str], seed: int = 0, overrides: Mapping[str, str] | None = None) -> list[Config]:
        """Each named preset with one shared seed and the same `overrides` (e.g. the dataset)."""
        changes = {"seed": str(seed), **(overrides or {})}
        return [preset(n).with_flat(**changes) for n in names]

    @property
    def trainers(self) -> list[Trainer]:
        """The distinct trainers (one per compatible group)."""
        return list({id(t): t for t, _ in self.placement}.values())

    @property
    def batches(self) -> int:
        return len(self.trainers)

    @property
    def step_count(self) -> int:
        return self.trainers[0].step_count

    def step(self, n: int) -> None:
        for trainer in self.trainers:
            trainer.step(n)

    def reset(self) -> None:
        for trainer in self.trainers:
            trainer.reset()

    def summary(self) -> pd.DataFrame:
        """Per configuration: final gap and distinct neurons of the first hidden layer, loss, accuracy."""
        rows = []
        for name, config, (trainer, run) in zip(self.names, self.configs, self.placement):
            has_hidden = bool(config.model.hidden)
            vectors = trainer.history.neuron_vectors(0, run) if has_hidden else None
            rows.append({
                "configuration": name,
                "gap": float(gap(vectors[-1])) if has_hidden else math.nan,
                "distinct neurons": int(distinct(vectors[-1], config.tol)) if has_hidden else 0,
                "train loss": float(trainer.final_loss[run]),
                "train accuracy": float(trainer.history.metric("train_accuracy", run)[-1]),
                "diverged": trainer.divergence_message(run),
            })
        return pd.DataFrame(rows)
