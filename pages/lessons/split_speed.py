"""Lesson 4: how fast they split. A tie-break of size ε grows exponentially, so the split comes ~ln(1/ε) later."""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from pages import chrome
from pages.lessons import common as lc
from symbreak.figures.lessons import split_curves_figure, split_time_figure
from symbreak.lessons import split_speed as lesson

chrome.route_through_app()

KEY = "lesson4"
LEARNING_RATES = (3.0, 5.0, 10.0, 20.0)


@st.cache_data(max_entries=8, show_spinner=False)
def _result(steps: int, lr: float) -> lesson.SplitSpeed:
    """Deterministic for its arguments, so students asking for the same run share it."""
    return lesson.split_speed(steps, lr=lr)


st.title("How fast they split")
st.markdown(
    "Eight copies of the same network: eight identical sigmoid neurons (every weight 0.5), each copy nudged "
    "by a random tie-break of size ε, from 1e-8 to 1e-1. Same direction, only the size differs. "
    "How long until the neurons are clearly different?"
)
controls = st.columns(2)
steps = controls[0].slider("Training steps", min_value=100, max_value=1000, value=lesson.SPLIT_STEPS, step=50,
                           key=f"{KEY}_steps")
lr = controls[1].select_slider("Learning rate", options=LEARNING_RATES, value=lesson.SPLIT_LR, key=f"{KEY}_lr")
with st.spinner("Training eight networks…"):
    result = _result(steps, lr)

left, right = st.columns(2)
with left:
    chrome.show_figure(split_curves_figure(result), key=f"{KEY}_curves", min_width=chrome.COLUMN_MIN_WIDTH)
with right:
    chrome.show_figure(split_time_figure(result), key=f"{KEY}_times", min_width=chrome.COLUMN_MIN_WIDTH)

rate = float(np.nanmedian(result.rates)) if np.isfinite(result.rates).any() else math.nan
split = np.isfinite(result.split_steps)
if math.isfinite(rate) and rate > 0:
    st.markdown(
        f"**While the gap is small it grows by the same factor every step**: about e^{rate:.3f} ≈ "
        f"{math.exp(rate):.3f}, so it doubles every {math.log(2) / rate:.0f} steps. On a log axis that is a "
        "straight line, and every ε draws the same line, just shifted."
    )
    st.markdown(
        f"Every factor of 10 smaller in ε costs about the same number of extra steps: here about "
        f"{result.slope * math.log(10):.0f}. So the time to split grows like ln(1/ε): a straight line on the right."
    )
else:
    st.warning("With this learning rate the tie-break does not grow within the steps trained: the symmetric "
               "state is stable here. Try a larger learning rate or more steps.")
if not split.all():
    st.info(f"{int((~split).sum())} of {len(split)} runs did not reach a gap of {result.threshold:g} "
            f"within {steps} steps; train longer to see them split.")
if result.shrinks_first.any():
    st.markdown(
        f"Look at the first steps: the gap shrinks a little before it grows ({int(result.shrinks_first.sum())} of "
        f"{len(result.epsilons)} runs). A random nudge is a mix of directions: training pulls some of them back "
        "and pushes one apart. At first the shrinking parts still count; soon only the growing one is left."
    )
st.markdown(
    "So a tiny nudge does break the tie, but late: every factor of 10 you leave out adds the same delay. "
    "A random start, with differences as large as the weights, splits at once."
)

table = result.table()
shown = table.assign(**{
    "growth rate per step": [("—" if math.isnan(v) else f"{v:.4f}") for v in table["growth rate per step"]],
    "step of split": [("not yet" if math.isnan(v) else f"{v:.0f}") for v in table["step of split"]],
})
st.dataframe(
    shown, hide_index=True, key=f"{KEY}_table",
    column_config={
        "ε": st.column_config.NumberColumn(format="%.0e"),
        "ln(1/ε)": st.column_config.NumberColumn(format="%.1f"),
        "gap at step 0": st.column_config.NumberColumn("gap at step 0", format="%.2e"),
        "growth rate per step": st.column_config.TextColumn(
            alignment="right", help=f"slope of ln(gap) against step while the gap is below {result.window:g} "
                                    "(— : the gap starts above that)"),
        "step of split": st.column_config.TextColumn(
            alignment="right", help=f"first step with a gap of at least {result.threshold:g}"),
        "gap at the end": st.column_config.NumberColumn("gap at the end", format="%.3g"),
    },
)
choice = st.selectbox("Open one ε in the Playground", [f"{e:.0e}" for e in result.epsilons], index=4,
                      key=f"{KEY}_open")
lc.playground_link(result.config.with_flat(perturb=float(choice)), f"Open ε = {choice} in the Playground")
