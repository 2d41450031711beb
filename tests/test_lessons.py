"""The lesson computations (symbreak's lesson_gradients, lesson_breakers, lesson_no_hidden, lesson_split_speed
and comparison): the NumPy chain rule against the engine, and the outcomes each lesson claims, measured."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from symbreak import Config, Trainer
from symbreak.engine.comparison import COMPARE_DEFAULT, Comparison
from symbreak.figures import lessons as LF
from symbreak.lessons import breakers, gradients, no_hidden, split_speed
from symbreak.settings.values import ConfigError

torch.set_num_threads(1)  # as app.py does: tiny tensors, extra threads only cost
RANDOM_221 = dict(zip(gradients.PARAMS_221, [0.7, -0.2, -0.4, 0.9, 0.1, -0.3, 1.3, -0.6, 0.2]))


# ------------------------------------------------------------------ lesson 1: the chain rule
@pytest.mark.parametrize("start", [gradients.DEFAULT_221, RANDOM_221, gradients.tie_221(RANDOM_221)],
                         ids=["first-example", "random", "tied"])
def test_chain_rule_matches_engine_float64(start: dict[str, float]) -> None:
    trainer = Trainer(gradients.config_221(start, dtype="float64"))
    x, y = trainer.dataset.x_train, trainer.dataset.y_train
    for _ in range(4):
        now = gradients.values_221(trainer.parameters())
        engine = trainer.gradients()[1][0].numpy()
        ours = gradients.batch_gradients_221(now, x, y)
        np.testing.assert_allclose(ours, engine, rtol=1e-10, atol=1e-15)
        table = gradients.chain_rule_table(now, x, y, sample=5)
        np.testing.assert_allclose(table.loc[list(gradients.PARAMS_221), gradients.MEAN_GRADIENT], engine,
                                   rtol=1e-10, atol=1e-15)
        trainer.step(7)


def test_chain_rule_matches_engine_float32() -> None:
    trainer = Trainer(gradients.config_221(RANDOM_221, dtype="float32"))
    trainer.step(20)
    now = gradients.values_221(trainer.parameters())
    engine = trainer.gradients()[1][0].double().numpy()
    ours = gradients.batch_gradients_221(now, trainer.dataset.x_train, trainer.dataset.y_train)
    np.testing.assert_allclose(ours, engine, rtol=1e-4, atol=1e-7)


def test_table_factors_multiply_to_the_sample_gradient() -> None:
    trainer = Trainer(gradients.config_221(RANDOM_221, dtype="float64"))
    x, y = trainer.dataset.x_train, trainer.dataset.y_train
    table = gradients.chain_rule_table(RANDOM_221, x, y, sample=3)
    factors = table[list(gradients.CHAIN_FACTORS)].fillna(1.0).prod(axis=1)
    np.testing.assert_allclose(factors, table[gradients.SAMPLE_GRADIENT], rtol=1e-12)
    assert table.loc["w1", "w5 or w6"] == RANDOM_221["w5"] and table.loc["w3", "w5 or w6"] == RANDOM_221["w6"]
    assert table.loc["w1", "input"] == x[3, 0] and table.loc["w2", "input"] == x[3, 1]
    assert math.isnan(table.loc["w5", "σ'(z)"])
    with pytest.raises(ValueError, match="sample"):
        gradients.chain_rule_table(RANDOM_221, x, y, sample=len(y))


def test_values_round_trip_through_the_engine() -> None:
    trainer = Trainer(gradients.config_221(RANDOM_221, dtype="float64"))
    assert gradients.values_221(trainer.parameters()) == RANDOM_221
    series = gradients.param_series_221(trainer)
    assert list(series.columns) == list(gradients.PARAMS_221) and series.iloc[0].to_dict() == RANDOM_221


def test_tied_neurons_get_identical_gradients_and_stay_tied() -> None:
    tied = gradients.tie_221(RANDOM_221)
    assert (tied["w3"], tied["w4"], tied["b2"], tied["w6"]) == (tied["w1"], tied["w2"], tied["b1"], tied["w5"])
    trainer = Trainer(gradients.config_221(tied))
    trainer.step(50)
    now = gradients.values_221(trainer.parameters())
    assert now != tied
    assert (now["w1"], now["w2"], now["b1"], now["w5"]) == (now["w3"], now["w4"], now["b2"], now["w6"])
    table = gradients.chain_rule_table(now, trainer.dataset.x_train, trainer.dataset.y_train, 0)
    assert not gradients.neuron_differences(table).to_numpy().any()
    assert gradients.why_gradients_differ(now) == []
    grads = gradients.gradient_series_221(trainer)
    assert (grads["w1"] == grads["w3"]).all() and (grads["w5"] == grads["w6"]).all()


def test_untying_outgoing_weights_splits_the_neurons_through_w5_w6() -> None:
    untied = gradients.untie_outgoing_221(RANDOM_221)
    assert untied["w6"] != untied["w5"] and (untied["w1"], untied["w2"]) == (untied["w3"], untied["w4"])
    trainer = Trainer(gradients.config_221(untied))
    x, y = trainer.dataset.x_train, trainer.dataset.y_train
    mask = gradients.neuron_differences(gradients.chain_rule_table(untied, x, y, 0))
    assert mask.loc["w1", "w5 or w6"] and mask.loc["w1", gradients.MEAN_GRADIENT]
    assert not mask.loc["w1", "σ'(z)"] and not mask.loc["w1", "value"]  # same z at the start
    assert gradients.why_gradients_differ(untied) == ["w5 ≠ w6: the error flows back to the two neurons with "
                                                    "different strength."]
    trainer.step(1)
    now = gradients.values_221(trainer.parameters())
    assert now["w1"] != now["w3"]
    mask = gradients.neuron_differences(gradients.chain_rule_table(now, x, y, 0))
    assert mask.loc["w1", "σ'(z)"] and mask.loc["w1", "value"]
    assert len(gradients.why_gradients_differ(now)) == 2


def test_gradient_series_is_the_gradient_at_each_step() -> None:
    trainer = Trainer(gradients.config_221(RANDOM_221, dtype="float64"))
    first = trainer.gradients()[1][0].numpy()
    trainer.step(3)
    series = gradients.gradient_series_221(trainer)
    assert list(series.index) == [0, 1, 2, 3]
    np.testing.assert_array_equal(series.loc[0].to_numpy(), first)
    np.testing.assert_array_equal(series.loc[3].to_numpy(), trainer.gradients()[1][0].numpy())


def test_twins_figure_draws_neuron_2_dashed_in_its_twin_colour() -> None:
    trainer = Trainer(gradients.config_221(RANDOM_221))
    trainer.step(3)
    fig = LF.twins_figure(gradients.param_series_221(trainer), gradients.WEIGHTS_221, "weights", "weight")
    lines = {t.name: t.line for t in fig.data}
    assert list(lines) == list(gradients.WEIGHTS_221)
    assert lines["w1"].color == lines["w3"].color and (lines["w1"].dash, lines["w3"].dash) == ("solid", "dash")
    assert list(fig.data[0].x) == [0, 1, 2, 3]


def test_bad_values_are_rejected_with_a_message() -> None:
    with pytest.raises(ValueError, match="9 parameters"):
        gradients.values_221([(np.zeros((3, 2)), np.zeros(3)), (np.zeros((1, 3)), np.zeros(1))])
    with pytest.raises(ConfigError, match="init_weights"):
        gradients.config_221({**RANDOM_221, "w1": float("nan")})


# ------------------------------------------------------------------ lesson 2: what breaks symmetry
BREAKS = {"random init (Xavier)", "dropout 0.1", "dropout 0.5", "perturbation ε = 1e-6", "different biases only",
          "different outgoing weights only"}
KEEPS = {"nothing (constant 0.5)", "mini-batches of 32, shuffled", "momentum 0.9", "Adam", "weight decay 0.01",
         "zero init, tanh", "zero init, relu", "zero init, sigmoid"}


@pytest.fixture(scope="module")
def matrix() -> breakers.BreakerMatrix:
    return breakers.breaker_matrix(200)


def test_breaker_matrix_measures_what_breaks_symmetry(matrix: breakers.BreakerMatrix) -> None:
    table = matrix.table.set_index("intervention")
    assert set(table.index) == BREAKS | KEEPS and len(table) == 14
    for label in KEEPS:
        row = table.loc[label]
        assert row["outcome"] == breakers.TIED and row["gap"] == 0.0 and row["distinct neurons"] == 1, label
        assert not any(row["gap over steps"]), label
    for label in BREAKS:
        row = table.loc[label]
        assert row["outcome"] == breakers.SPLIT and row["gap"] > 0 and row["distinct neurons"] > 1, label
    assert table.loc["perturbation ε = 1e-6", "gap"] > 0  # representable in float32 next to 0.5
    assert all(np.isfinite(table["final loss"]))


def test_breaker_configs_change_one_thing_and_batch_together(matrix: breakers.BreakerMatrix) -> None:
    base = breakers.breaker_base(200)
    assert base.train.dtype == "float32" and base.init.weight == "constant:0.5"
    for row, config in zip(breakers.INTERVENTIONS, matrix.configs):
        assert config == base.with_flat(**row.changes)
    assert matrix.configs[2].train.dropout == 0.1 and matrix.configs[7].train.batch_size == 32
    assert len(matrix.series) == 14 and all(s.shape == t.shape for s, t in zip(matrix.series, matrix.series_steps))
    assert matrix.series_steps[0][-1] == 200 and len(matrix.series_steps[0]) <= breakers.BREAKER_ROWS
    assert matrix.seconds > 0


def test_breaker_figure_has_one_panel_per_intervention(matrix: breakers.BreakerMatrix) -> None:
    fig = LF.breaker_figure(matrix.table, matrix.series, matrix.series_steps)
    assert len(fig.data) == 14
    assert all(np.all(np.asarray(trace.y) > 0) for trace in fig.data)  # zero drawn on the floor of the log axis
    assert fig.layout.yaxis.ticktext[0] == "0"
    labels = fig.layout.annotations
    assert len(labels) == 14 and all(a.xanchor == "center" for a in labels), "each label centred over its panel"
    # Short lines, so neighbouring labels stay apart at a projector's 1024-pixel width.
    assert max(len(line) for a in labels for line in a.text.split("<br>")) <= 14


# ------------------------------------------------------------------ lesson 3: no hidden layer
def test_softmax_rows_split_and_sum_to_zero_while_hidden_neurons_stay_tied() -> None:
    result = no_hidden.no_hidden(150)
    assert result.class_distinct == 3 and result.class_gap[-1] > 1.0
    assert result.class_gap[0] == 0.0 and result.class_gap[1] > 0.0  # they split at the first step
    assert np.abs(result.column_sums).max() < 1e-12  # zero up to float64 rounding
    assert result.hidden_distinct == 1 and not result.hidden_gap.any()
    assert np.abs(result.hidden[-1]).max() > 0.1  # the tied sigmoid neurons do move
    assert result.softmax_accuracy > result.hidden_accuracy
    tanh = no_hidden.no_hidden(50, "tanh")
    assert not tanh.hidden.any()  # tanh(0) = 0: nothing reaches the hidden neurons
    fig = LF.plane_figure(result.class_rows, ["a", "b", "c"], "t", show_centre=True)
    assert {t.name for t in fig.data} >= {"a", "b", "c", "start", "average of the rows"}
    assert any("×4" in (t.name or "") for t in LF.plane_figure(result.hidden, list("1234"), "t").data)


# ------------------------------------------------------------------ lesson 4: how fast they split
@pytest.fixture(scope="module")
def speed() -> split_speed.SplitSpeed:
    return split_speed.split_speed()


def test_split_time_grows_like_log_one_over_epsilon(speed: split_speed.SplitSpeed) -> None:
    assert speed.config.train.dtype == "float64" and len(speed.epsilons) == 8
    np.testing.assert_allclose(speed.gaps[:, 0] / speed.epsilons, speed.gaps[0, 0] / speed.epsilons[0])
    rates = speed.rates[np.isfinite(speed.rates)]
    assert len(rates) >= 4 and (rates > 0).all()
    assert np.isfinite(speed.split_steps).all()
    assert (np.diff(speed.split_steps) < 0).all()  # smaller ε (earlier rows) splits later
    assert speed.correlation > 0.9 and speed.slope > 0
    assert speed.slope == pytest.approx(1 / np.median(rates), rel=0.5)  # steps per e-fold ≈ 1 / rate


def test_split_figures_and_table(speed: split_speed.SplitSpeed) -> None:
    assert len(LF.split_curves_figure(speed).data) == 8
    time_fig = LF.split_time_figure(speed)
    assert len(time_fig.data) == 2 and list(time_fig.data[0].y) == list(speed.split_steps)
    table = speed.table()
    assert list(table["step of split"]) == list(speed.split_steps) and len(table) == 8


# ------------------------------------------------------------------ legends under the x axis's title
X_TITLE_DEPTH = 60  # px: at FONT_SIZE the x tick labels and the axis title end this far under the plot (Chromium)


def legend_top_under_axis(fig: go.Figure) -> float | None:
    """How far under the plot's bottom edge plotly.js draws the top of the legend, in px, whatever the width;
    None when that depends on the width. Measured in Chromium: a legend at the bottom of the container sits
    under the bottom margin, and plotly reserves room below the margin for however many rows it wraps into.
    A legend in paper coordinates moves with the plot's height, which shrinks as a narrow column wraps the
    legend into more rows: that is how the legends ran into the "step" titles."""
    legend = fig.layout.legend
    if (legend.yref, legend.y, legend.yanchor) == ("container", 0, "bottom"):
        return fig.layout.margin.b
    return None


def test_lesson_legends_sit_clear_below_the_x_axis_title(speed: split_speed.SplitSpeed) -> None:
    result = no_hidden.no_hidden(50)
    trainer = Trainer(gradients.config_221(RANDOM_221))
    trainer.step(3)
    figures = {
        "twins": LF.twins_figure(gradients.param_series_221(trainer), gradients.WEIGHTS_221, "weights",
                                 "weight"),
        "class rows": LF.plane_figure(result.class_rows, ["a", "b", "c"], "t", show_centre=True),
        "hidden neurons": LF.plane_figure(result.hidden, list("1234"), "t"),
        "column sums": LF.column_sums_figure(result),
        "split curves": LF.split_curves_figure(speed),
    }
    for name, fig in figures.items():
        assert fig.layout.legend.orientation == "h" and fig.layout.legend.x == 0, name
        top = legend_top_under_axis(fig)
        assert top is not None and top >= X_TITLE_DEPTH + 8, (name, top)  # a clear gap under the title


def test_fitting_helpers_on_exact_exponentials() -> None:
    steps = np.arange(0, 200, 5)
    gaps = 1e-6 * np.exp(0.05 * steps)
    assert split_speed.growth_rate(steps, gaps, upper=1e-2) == pytest.approx(0.05)
    assert split_speed.time_to_split(steps, gaps, 1e-3) == 140.0
    assert math.isnan(split_speed.time_to_split(steps, gaps, 1e9))
    assert math.isnan(split_speed.growth_rate(steps, np.zeros_like(gaps)))
    slope, intercept, corr = split_speed.line_fit(np.array([1.0, 2.0, 3.0, np.nan]),
                                                         np.array([3.0, 5.0, 7.0, 1.0]))
    assert (slope, intercept) == pytest.approx((2.0, 1.0)) and corr == pytest.approx(1.0)


# ------------------------------------------------------------------ lesson 5: compare
def test_comparison_batches_compatible_configs_and_keeps_outcomes() -> None:
    configs = Comparison.preset_configs(COMPARE_DEFAULT, seed=3, overrides={"dataset": "coffee"})
    comparison = Comparison(configs, COMPARE_DEFAULT)
    assert comparison.batches == 1 and all(c.seed == 3 for c in comparison.configs)
    comparison.step(30)
    summary = comparison.summary().set_index("configuration")
    assert summary.loc["constant", "distinct neurons"] == 1 and summary.loc["constant", "gap"] == 0.0
    assert summary.loc["constant-dropout", "distinct neurons"] == 8
    assert comparison.step_count == 30
    comparison.reset()
    assert comparison.step_count == 0


def test_comparison_groups_incompatible_configs() -> None:
    names = ("constant", "zeros-sigmoid", "softmax-zero")
    comparison = Comparison(Comparison.preset_configs(names, overrides={"dataset": "coffee"}), names)
    assert comparison.batches == 2  # no hidden layer cannot share a batch with 8 hidden neurons
    comparison.step(5)
    assert {t.step_count for t in comparison.trainers} == {5}
    assert comparison.summary().set_index("configuration").loc["softmax-zero", "distinct neurons"] == 0


def test_share_y_range_takes_the_union() -> None:
    figs = [go.Figure(layout=dict(yaxis=dict(range=r))) for r in ([-12, -2], [-12, 0.5])] + [go.Figure()]
    LF.share_y_range(figs)
    assert [list(f.layout.yaxis.range) for f in figs[:2]] == [[-12, 0.5], [-12, 0.5]]
    assert figs[2].layout.yaxis.range is None


def test_comparison_rejects_bad_choices() -> None:
    with pytest.raises(ValueError, match="between 1 and 4"):
        Comparison([Config()] * 5)
    with pytest.raises(ValueError, match="share"):
        Comparison([Config(), Config(seed=1)])
