"""Tests for symbreak.figures.describe: the sentence a screen reader hears and the weights table, on runs whose
neurons stay tied, split apart, or split into groups."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from symbreak import Config, Trainer, preset
from symbreak.engine.metrics import distinct, gap
from symbreak.figures import describe as D
from symbreak.figures import live as F

SENTENCE = re.compile(r"^Step [\d,]+: .+; loss (\d\.\d+|\d\.\d+e[-+]\d+|\d+|not finite)$")


def trained(config: Config, steps: int) -> Trainer:
    trainer = Trainer(config)
    trainer.step(steps)
    return trainer


@pytest.fixture(scope="module")
def tied() -> Trainer:
    return trained(preset("constant"), 40)


@pytest.fixture(scope="module")
def split() -> Trainer:
    return trained(preset("constant-dropout"), 40)


def test_a_constant_start_is_all_tied_with_a_gap_of_exactly_zero(tied: Trainer) -> None:
    history = tied.history
    first = D.run_sentence(history, row=0, tol=tied.config.tol)
    loss = history.metric("train_loss")[0]
    assert first == f"Step 0: 8 neurons, all tied, gap exactly 0; loss {loss:.2g}"
    last = D.run_sentence(history, tol=tied.config.tol)
    assert last.startswith(f"Step {int(history.steps[-1]):,}: 8 neurons, all tied, gap exactly 0; loss ")
    assert SENTENCE.match(last)


def test_dropout_splits_the_neurons_and_the_sentence_gives_the_gap(split: Trainer) -> None:
    history, tol = split.history, split.config.tol
    vectors = history.neuron_vectors(0)[-1]
    sentence = D.run_sentence(history, tol=tol)
    assert "split" in sentence and "tied" not in sentence
    assert f"largest gap {gap(vectors):.2g}" in sentence
    assert SENTENCE.match(sentence)


def test_groups_are_counted_when_some_neurons_are_still_tied() -> None:
    """Two distinct starting rows, each given to half the neurons: two groups, which no update can join or split
    without dropout."""
    hidden = {"weight": [[0.5, 0.5]] * 2 + [[-0.3, 0.2]] * 2, "bias": [0.0] * 4}
    output = {"weight": [[0.5] * 4], "bias": [0.0]}
    flat = {"init_weights": json.dumps({"layers": [hidden, output]}), "hidden": "4"}
    trainer = trained(Config.from_flat(flat), 5)
    vectors = trainer.history.neuron_vectors(0)[-1]
    assert distinct(vectors, trainer.config.tol) == 2
    assert "the 4 neurons split into 2 groups; largest gap" in D.run_sentence(trainer.history, tol=trainer.config.tol)


def test_the_live_figure_carries_its_name_and_sentence(split: Trainer) -> None:
    layout = json.loads(F.live_json(split.history, tol=split.config.tol))["layout"]
    assert layout["meta"]["label"] == "Each neuron's weights and bias (hidden layer 1); Symmetry meter: largest gap"
    assert layout["meta"]["description"] == D.run_sentence(split.history, tol=split.config.tol)


def test_the_weights_table_has_a_row_per_neuron_and_their_groups(tied: Trainer, split: Trainer) -> None:
    table = D.weights_table(tied.history, tol=tied.config.tol, names=["a", "b"])
    assert list(table.columns) == ["a", "b", "bias", "tied group"]
    assert list(table.index) == [f"n{i}" for i in range(1, 9)]
    assert (table["tied group"] == 1).all()
    np.testing.assert_array_equal(table[["a", "b", "bias"]].to_numpy(), tied.history.neuron_vectors(0)[-1])
    apart = D.weights_table(split.history, tol=split.config.tol)
    assert list(apart.columns[:2]) == ["x1", "x2"]
    assert sorted(apart["tied group"]) == list(range(1, 9))


def test_one_tone_per_group_at_its_offset_from_the_mean(tied: Trainer, split: Trainer) -> None:
    assert D.group_offsets(tied.history, tol=tied.config.tol) == [0.0]
    offsets = D.group_offsets(split.history, tol=split.config.tol)
    sums = split.history.neuron_vectors(0)[-1].sum(axis=1)
    np.testing.assert_allclose(offsets, sums - sums.mean())
    layout = json.loads(F.live_json(split.history, tol=split.config.tol))["layout"]
    assert layout["meta"]["tones"] == offsets
