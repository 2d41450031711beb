"""The lesson on near-duplicate neurons: its counts against an independent NumPy computation on the recorded
weights, its clustering on made-up layers, its sentences and figures, and its page under Streamlit's AppTest
(opens on its question, answers it, ?predict=0, ?present=1)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pandas as pd
import pytest
import streamlit as st
import test_lesson_pages as lesson_pages  # also puts the app's folder on the path, as app.py runs
import torch
from test_lesson_pages import links, text

from symbreak import Config, Trainer
from symbreak.figures.duplicates import MAX_MAPS, counts_figure, maps_figure
from symbreak.lessons import duplicates as dup
from symbreak.lessons.wasted import closest

torch.set_num_threads(1)
STEPS = 150
WIDTHS = (4, 16, 32)
SEEDS = (0, 1)
SHORT = dict(steps=60, seeds=(0, 1))  # what the page trains in these tests


@pytest.fixture(scope="module")
def result() -> dup.Duplicates:
    return dup.duplicates(steps=STEPS, widths=WIDTHS, seeds=SEEDS)


# ------------------------------------------------------------------ an independent count
def numpy_counts(weights: np.ndarray, biases: np.ndarray, x: np.ndarray, threshold: float) -> dict[str, int]:
    """Dead, near-duplicate and distinct neurons of relu(x Wᵀ + b), written without the lesson's code: pairs by
    a loop over the angle between activation vectors, groups by taking the neuron with the most partners left."""
    act = np.maximum(x @ weights.T + biases, 0.0)
    dead = [i for i in range(act.shape[1]) if not np.any(act[:, i] > 0)]
    live = [i for i in range(act.shape[1]) if i not in dead]
    pairs = {i: set() for i in live}
    for i in live:
        for j in live:
            cos = act[:, i] @ act[:, j] / (np.linalg.norm(act[:, i]) * np.linalg.norm(act[:, j]))
            if i != j and abs(cos) > threshold:
                pairs[i].add(j)
    left, groups = set(live), 0
    while left:
        leader = max(sorted(left), key=lambda i: len(pairs[i] & left))
        left -= pairs[leader] | {leader}
        groups += 1
    return {"effective width": groups, "near-duplicates": sum(1 for i in live if pairs[i]), "dead": len(dead)}


@pytest.mark.parametrize("threshold", [0.9, dup.THRESHOLD, 0.999])
def test_counts_agree_with_numpy_on_the_recorded_weights(result: dup.Duplicates, threshold: float) -> None:
    """Each layer trained again on its own, its last recorded weights read from the history, the counts computed
    by NumPy: the same as the lesson's, which measured the batched run through the engine's forward pass."""
    x = result.dataset.x_train
    totals = {"near-duplicates": 0, "dead": 0}
    for (arm, width, seed), layer in result.layers.items():
        trainer = Trainer(dup.duplicates_config(width, arm, seed, STEPS), dataset=dup.duplicates_dataset(), max_rows=8)
        trainer.step(STEPS)
        assert trainer.history.steps[-1] == STEPS
        weights, biases = (v[-1] for v in trainer.history.layer_params(0))
        np.testing.assert_allclose(layer.weights, weights, rtol=1e-6, atol=1e-7)
        expected = numpy_counts(weights, biases, x, threshold)
        assert dup.counts(layer, threshold) == expected, (arm, width, seed)
        for name in totals:
            totals[name] += expected[name]
    assert totals["near-duplicates"] > 0 and totals["dead"] > 0  # both counts are exercised, not only zeros


# ------------------------------------------------------------------ the clustering on made-up layers
def made_up(activations: np.ndarray) -> dup.Layer:
    dead, similarity = dup.measure(activations)
    return dup.Layer(dead, similarity, np.zeros((activations.shape[1], 2)), np.zeros(activations.shape[1]), 1.0)


def test_a_neuron_times_a_number_is_a_near_duplicate_and_a_silent_one_is_dead() -> None:
    a, b = np.array([1.0, 0.0, 2.0, 0.5]), np.array([0.0, 1.0, 0.0, 3.0])
    layer = made_up(np.column_stack([a, 3 * a, b, np.zeros(4), a + 0.001 * b]))
    assert list(layer.dead) == [False, False, False, True, False]
    assert layer.similarity[3].max() == 0.0  # a dead neuron is nobody's duplicate
    assert list(dup.clusters(layer)) == [0, 0, 1, -1, 0]
    assert dup.counts(layer) == {"effective width": 2, "near-duplicates": 3, "dead": 1}


def test_a_chain_of_near_duplicates_is_split_where_a_member_is_not_near_its_leader() -> None:
    """Neurons 0~1, 1~2, 2~3 only: every one has a near-duplicate, yet 0 and 3 are not alike. The neuron with the
    most partners (1, the lowest of 1 and 2) leads {0, 1, 2}; 3 is left on its own."""
    angles = np.radians([0.0, 6.0, 12.0, 18.0])  # neighbours 6° apart: cos 0.9945; two apart: 0.978
    layer = made_up(np.column_stack([np.cos(angles), np.sin(angles)]).T)
    assert list(dup.clusters(layer)) == [0, 0, 0, 1]
    assert dup.counts(layer) == {"effective width": 2, "near-duplicates": 4, "dead": 0}
    assert dup.counts(layer, threshold=0.999) == {"effective width": 4, "near-duplicates": 0, "dead": 0}


def test_summary_holds_the_mean_and_range_of_every_arm_and_width(result: dup.Duplicates) -> None:
    table = dup.summary(result)
    assert len(table) == len(dup.ARMS) * len(WIDTHS)
    for name in dup.MEASURES:
        assert (table[f"{name} low"] <= table[name]).all() and (table[name] <= table[f"{name} high"]).all()
    row = table[(table["arm"] == dup.HE) & (table["width"] == 16)].iloc[0]
    found = [dup.counts(result.layers[dup.HE, 16, s]) for s in SEEDS]
    assert row["near-duplicates"] == np.mean([f["near-duplicates"] for f in found])
    assert (table["effective width"] + table["near-duplicates"] >= 0).all()
    assert (table["effective width high"] <= table["width"]).all()


# ------------------------------------------------------------------ what the page says
def side(low: int, mean: float, high: int) -> pd.Series:
    return pd.Series({"near-duplicates": mean, "near-duplicates low": low, "near-duplicates high": high})


def test_dropout_is_said_to_make_more_copies_only_when_the_numbers_say_so() -> None:
    assert dup.dropout_effect(side(12, 13.0, 14), side(8, 9.0, 11)) == "more in every draw"
    assert dup.dropout_effect(side(3, 4.0, 5), side(8, 9.0, 11)) == "fewer in every draw"
    assert dup.dropout_effect(side(8, 11.0, 14), side(7, 9.0, 11)) == "more on average, though the draws overlap"
    assert dup.dropout_effect(side(8, 9.4, 11), side(7, 9.0, 11)) == "about as many"


def test_sentences_carry_the_measured_numbers(result: dup.Duplicates) -> None:
    table = dup.summary(result)
    sentences = dup.duplicates_sentences(result, table, 16, dup.THRESHOLD)
    he = table[(table["arm"] == dup.HE) & (table["width"] == 16)].iloc[0]
    assert sentences[0].startswith(f"**He start, 16 neurons:** {he['effective width']:.1f}")
    assert sentences[2].startswith(f"**Dropout {dup.DUP_DROPOUT}**, 16 neurons:")
    assert f"|cosine| > {dup.THRESHOLD}" in sentences[-1] and f"after {STEPS:,} steps" in sentences[-1]


def test_counts_figure_draws_each_arm_in_each_panel(result: dup.Duplicates) -> None:
    fig = counts_figure(dup.summary(result), dup.THRESHOLD)
    assert [a.text for a in fig.layout.annotations] == ["distinct features", "neurons with a near-duplicate",
                                                       "dead neurons"]
    assert sum(tr.name == dup.HE for tr in fig.data) == 3 and sum(tr.name == "every neuron" for tr in fig.data) == 2
    he = next(tr for tr in fig.data if tr.name == dup.HE)
    table = dup.summary(result)
    rows = table[table["arm"] == dup.HE]
    np.testing.assert_allclose(np.asarray(he.y), rows["effective width"])
    np.testing.assert_allclose(np.asarray(he.error_y.array), rows["effective width high"] - rows["effective width"])


def test_maps_group_the_neurons_and_draw_one_line_each(result: dup.Duplicates) -> None:
    layer = result.layers[dup.SMALL, 32, 0]
    labels = dup.clusters(layer)
    xs, ys, pre = dup.plane(result, dup.SMALL, 32, 0)
    assert pre.shape == (len(xs) * len(ys), 32)
    fig = maps_figure(xs, ys, pre, labels, result.dataset.x_train, "t")
    sizes = np.bincount(labels[labels >= 0])
    alone = int((sizes == 1).sum())
    assert sum(tr.type == "heatmap" for tr in fig.data) == int((sizes > 1).sum())
    assert sum(tr.type == "contour" for tr in fig.data) == int((labels >= 0).sum())  # every live neuron, once
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0] == f"{sizes.max()} near-duplicates" and (not alone or titles[-1].endswith("with none"))
    pairs = np.repeat(np.arange(MAX_MAPS + 2), 2)  # more groups of two than there are panels
    many = maps_figure(xs, ys, np.repeat(pre[:, :1], len(pairs), axis=1), pairs, result.dataset.x_train, "t")
    assert len(many.layout.annotations) == MAX_MAPS
    assert many.layout.title.text.endswith(f"the {MAX_MAPS} largest of {MAX_MAPS + 2} groups")


# ------------------------------------------------------------------ the page
@pytest.fixture
def short_page(monkeypatch) -> dup.Duplicates:
    """The page trains a short run (the real one is timed in bench/); the same short run, for the comparison."""
    real = dup.duplicates
    monkeypatch.setattr(dup, "duplicates", lambda progress=None: real(progress=progress, **SHORT))
    st.cache_data.clear()
    yield real(**SHORT)
    st.cache_data.clear()  # the short run must not stand in for the real one elsewhere


def page(**query: str):
    return lesson_pages.page("lesson_duplicates", 120, **query)


def test_page_opens_on_its_question_and_hides_the_answer(short_page) -> None:
    at = page()
    [radio] = [r for r in at.radio if r.key == "lesson9_guess"]
    assert radio.value is None and list(radio.options) == ["all 32", "about 24", "about 16", "about 8"]
    assert any("how many of 32 neurons end up doing something different?" in m.value for m in at.markdown)
    assert [b.label for b in at.button] == ["Show me"]
    assert not at.success and not at.warning and not links(at)


def test_a_guess_is_checked_against_the_measured_count(short_page: dup.Duplicates) -> None:
    at = page()
    at.radio(key="lesson9_guess").set_value("all 32").run()
    assert not at.exception, [e.value for e in at.exception]
    he = dup.summary(short_page).set_index(["arm", "width"]).loc[(dup.HE, 32)]
    right = closest(he["effective width"], {"all 32": 32, "about 24": 24, "about 16": 16, "about 8": 8})
    [answer] = at.success if right == "all 32" else at.warning
    verdict = "Your prediction matches the run." if right == "all 32" else f"The run says: {right}."
    assert answer.value.startswith(f"You predicted: all 32. {verdict}")
    assert f"{he['effective width']:.1f} distinct features on average" in answer.value
    assert f"**He start, 32 neurons:** {he['effective width']:.1f}" in text(at)
    expected = dup.duplicates_config(32, dup.HE, 0, SHORT["steps"])
    assert links(at)["Open “He start, 32 neurons, draw 1” in the Playground"] == expected


def test_predict_off_opens_on_the_answer_and_its_link_keeps_it(short_page) -> None:
    at = page(predict="0")
    assert not [r for r in at.radio if r.key == "lesson9_guess"] and not at.success and not at.warning
    assert "**He start, 32 neurons:**" in text(at)
    [url] = re.findall(r"\]\((/\?[^)]*)\)", text(at))
    query = dict(parse_qsl(urlsplit(url).query))
    assert query.pop("predict") == "0" and Config.from_flat(query) == dup.duplicates_config(32, dup.HE, 0, 60)


def test_the_threshold_and_the_maps_controls_redraw_the_page(short_page: dup.Duplicates) -> None:
    at = page()
    at.button[0].click().run()
    at.select_slider(key="lesson9_threshold").set_value(0.9).run()
    at.toggle(key="lesson9_dropout").set_value(True).run()
    at.radio(key="lesson9_start").set_value("small").run()
    at.select_slider(key="lesson9_width").set_value(16).run()
    at.select_slider(key="lesson9_draw").set_value(2).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "All counts use |cosine| > 0.9 over" in text(at)
    assert "**He start, 16 neurons:**" in text(at)
    assert links(at)["Open “small start + dropout, 16 neurons, draw 2” in the Playground"] == \
        dup.duplicates_config(16, dup.SMALL_DROPOUT, 1, 60)


def test_present_mode_asks_in_large_type(short_page) -> None:
    at = page(present="1")
    assert any(m.value.startswith("## From a random He start") for m in at.markdown)
    assert at.radio(key="lesson9_guess").proto.horizontal is False
    assert any(".st-key-lesson9_predict" in h.proto.body for h in at.get("html"))
    at.button[0].click().run()
    assert any(m.value.startswith("### The run says: ") for m in at.markdown)
