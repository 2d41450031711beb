"""Lesson 1: why the gradients match. A 2-2-1 network, worked by the chain rule."""

from __future__ import annotations

import numpy as np
import streamlit as st

from pages import chrome, session
from pages.lessons import common as lc
from symbreak.engine.trainer import Trainer
from symbreak.figures.lessons import twins_figure
from symbreak.lessons import gradients as lesson
from symbreak.settings.values import ConfigError

chrome.route_through_app()

KEY = "lesson1"
LIMIT = 50.0  # starting weights are kept within ±LIMIT
HIGHLIGHT = "background-color: #FFD29E; font-weight: 600"
GRADIENTS = (lesson.SAMPLE_GRADIENT, lesson.MEAN_GRADIENT)
GRID = (("neuron 1", ("w1", "w2", "b1")), ("neuron 2", ("w3", "w4", "b2")), ("output", ("w5", "w6", "b3")))
LABELS = {"w1": "w1 (x1 → n1)", "w2": "w2 (x2 → n1)", "b1": "b1", "w3": "w3 (x1 → n2)", "w4": "w4 (x2 → n2)",
          "b2": "b2", "w5": "w5 (n1 → out)", "w6": "w6 (n2 → out)", "b3": "b3"}


def _widget(name: str) -> str:
    return f"{KEY}_{name}"


def _set_start(values: dict[str, float]) -> None:
    for name in lesson.PARAMS_221:
        st.session_state[_widget(name)] = float(values[name])


def _start_values() -> dict[str, float]:
    return {name: float(st.session_state[_widget(name)]) for name in lesson.PARAMS_221}


def _tie() -> None:
    _set_start(lesson.tie_221(_start_values()))


def _untie() -> None:
    _set_start(lesson.untie_outgoing_221(_start_values()))


for _name, _value in lesson.DEFAULT_221.items():
    st.session_state.setdefault(_widget(_name), _value)

st.title("Why the gradients match")
st.markdown(
    "Gradient descent moves every weight by its own gradient: **w ← w − α · dJ/dw**. "
    "Two neurons can only drift apart if their gradients differ, so let us look inside one."
)
st.markdown(
    "This is a 2-2-1 network on the coffee data: inputs x1 (temperature) and x2 (duration), two sigmoid "
    "neurons, one sigmoid output. Neuron 1 receives w1 and w2, neuron 2 receives w3 and w4; "
    "w5 and w6 carry their outputs to the output neuron."
)

with st.container(border=True):
    st.markdown("**Starting weights** (change any of them, or use a button)")
    columns = st.columns(3)
    for column, (title, names) in zip(columns, GRID):
        with column:
            st.caption(title)
            for name in names:
                st.number_input(LABELS[name], key=_widget(name), min_value=-LIMIT, max_value=LIMIT, step=0.1,
                                format="%.3f")
    buttons = st.columns(3)
    buttons[0].button("Tie the neurons", on_click=_tie, help="w3 = w1, w4 = w2, b2 = b1 and w6 = w5",
                      width="stretch")
    buttons[1].button("Untie only the outgoing weights", on_click=_untie,
                      help=f"tie the neurons, then w6 = w5 − {lesson.UNTIE_GAP:g}", width="stretch")
    buttons[2].button("Back to the first example", on_click=_set_start, args=(lesson.DEFAULT_221,),
                      width="stretch")

start = _start_values()
controls = st.columns([1, 1, 1, 1, 2, 2], vertical_alignment="bottom")
lr = controls[4].select_slider("Learning rate α", options=[0.1, 0.3, 1.0, 3.0], value=lesson.LESSON1_LR,
                               key=f"{KEY}_lr")
try:
    config = lesson.config_221(start, lr=lr)
    # This session's trainer; a new one whenever the starting weights or the learning rate change.
    trainer = session.kept(f"{KEY}_trainer", config, lambda: Trainer(config))
except ConfigError as error:
    st.error(f"These starting weights cannot be used: {error}")
    st.stop()
if controls[0].button("Step", type="primary", width="stretch"):
    trainer.step(1)
if controls[1].button("Step 10", width="stretch"):
    trainer.step(10)
if controls[2].button("Step 100", width="stretch"):
    trainer.step(100)
if controls[3].button("Restart", width="stretch", help="back to the starting weights above"):
    trainer.reset()
x, y = trainer.dataset.x_train, trainer.dataset.y_train
sample = controls[5].number_input(f"Sample in the table (1–{len(y)})", min_value=1, max_value=len(y), value=1,
                                  key=f"{KEY}_sample") - 1
chrome.divergence_banner(trainer)

now = lesson.values_221(trainer.parameters())
table = lesson.chain_rule_table(now, x, y, sample)
mask = lesson.neuron_differences(table)
numeric = [c for c in table.columns if c != "chain rule"]
shown = table.copy()
shown[numeric] = table[numeric].map(lambda v: "—" if np.isnan(v) else f"{v:.4g}")

st.subheader(f"The chain rule at step {trainer.step_count}  ·  loss {trainer.final_loss[0]:.4f}")
st.caption(
    f"Factors for sample {sample + 1}: x1 = {x[sample, 0]:.3f}, x2 = {x[sample, 1]:.3f} (standardized), "
    f"good roast = {int(y[sample])}. The optimizer uses the last column, the average over all {len(y)} samples."
)
st.dataframe(
    shown.style.apply(lambda _: np.where(mask, HIGHLIGHT, ""), axis=None), key=f"{KEY}_table",
    # Pixel widths that fit the whole table in the page's width: the gradient columns hold the longest numbers.
    column_config={
        "_index": st.column_config.TextColumn(width=80), "chain rule": st.column_config.TextColumn(width=215),
        **{c: st.column_config.TextColumn(c, alignment="right", width=110 if c in GRADIENTS else 64) for c in numeric},
    },
)

reasons = lesson.why_gradients_differ(now)
if reasons:
    st.markdown("Highlighted: numbers that differ between neuron 1 and its twin in neuron 2. "
                + " ".join(reasons))
else:
    st.success("Nothing is highlighted: every factor is the same for both neurons, so their gradients are equal "
               "and they take exactly the same step. Press Step as often as you like: they stay tied "
               "(in the plots, neuron 2's dashed lines lie exactly on top of neuron 1's).")

left, right = st.columns(2)
with left:
    chrome.show_figure(twins_figure(lesson.param_series_221(trainer), lesson.WEIGHTS_221,
                                "Weights (neuron 2 dashed)", "weight"), key=f"{KEY}_weights",
                   min_width=chrome.COLUMN_MIN_WIDTH)
with right:
    chrome.show_figure(twins_figure(lesson.gradient_series_221(trainer), lesson.WEIGHTS_221,
                                "Gradients (neuron 2 dashed)", "dJ/dw"), key=f"{KEY}_gradients",
                   min_width=chrome.COLUMN_MIN_WIDTH)

lc.playground_link(config, "Open this network in the Playground")
