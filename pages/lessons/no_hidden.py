"""Lesson 3: no hidden layer. Softmax regression from zero splits its class rows; a hidden layer does not."""

from __future__ import annotations

import numpy as np
import streamlit as st

from pages import chrome
from pages.lessons import common as lc
from symbreak.figures.lessons import column_sums_figure, plane_figure
from symbreak.lessons import no_hidden as lesson

chrome.route_through_app()

KEY = "lesson3"


@st.cache_data(max_entries=8, show_spinner=False)
def _result(steps: int, activation: str) -> lesson.NoHidden:
    """Deterministic for its arguments, so students asking for the same run share it."""
    return lesson.no_hidden(steps, activation)


st.title("No hidden layer: a zero start is fine")
st.markdown(
    "If every weight starts at zero, is the network stuck? Only if it has a hidden layer. "
    "Below, the same three-class data (blobs3) and the same zero start, with and without hidden neurons."
)
controls = st.columns(2)
steps = controls[0].slider("Training steps", min_value=10, max_value=1000, value=lesson.NO_HIDDEN_STEPS, step=10,
                           key=f"{KEY}_steps")
activation = controls[1].radio("Hidden neurons", ["sigmoid", "tanh"], horizontal=True, key=f"{KEY}_activation")
with st.spinner("Training both networks…"):
    result = _result(steps, activation)
softmax_config, hidden_config = result.configs

left, right = st.columns(2)
with left:
    st.subheader("No hidden layer (softmax regression)")
    st.markdown(f"**3 class rows, {result.class_distinct} distinct** · accuracy {result.softmax_accuracy:.0%} · "
                f"loss {result.softmax_loss:.3f}")
    chrome.show_figure(plane_figure(result.class_rows, ["class 0", "class 1", "class 2"],
                                "Each class's weights, from zero", tol=softmax_config.tol, show_centre=True),
                   key=f"{KEY}_softmax", min_width=chrome.COLUMN_MIN_WIDTH)
    st.markdown(
        "Each row of weights belongs to one class, and the classes have different targets (one-hot). "
        "So the rows get different gradients from the very first step and fan out."
    )
    lc.playground_link(softmax_config, "Open softmax regression in the Playground")
with right:
    st.subheader(f"With {lesson.NO_HIDDEN_WIDTH} hidden {activation} neurons")
    st.markdown(f"**{lesson.NO_HIDDEN_WIDTH} hidden neurons, {result.hidden_distinct} distinct** · "
                f"accuracy {result.hidden_accuracy:.0%} · loss {result.hidden_loss:.3f}")
    chrome.show_figure(plane_figure(result.hidden, [f"n{i + 1}" for i in range(lesson.NO_HIDDEN_WIDTH)],
                                "Each hidden neuron's weights, from zero", tol=hidden_config.tol),
                   key=f"{KEY}_hidden", min_width=chrome.COLUMN_MIN_WIDTH)
    if activation == "tanh":
        st.markdown("tanh(0) = 0: the hidden neurons output nothing, so no error reaches them and they never "
                    "leave zero. Only the output biases learn.")
    else:
        st.markdown("Every hidden neuron computes the same σ(0) = 0.5 and gets the same error back, so they move "
                    "together: four neurons doing the work of one.")
    lc.playground_link(hidden_config, "Open the hidden-layer network in the Playground")

st.subheader("The class rows always add up to zero")
st.markdown(
    "Class k's gradient row is (pₖ − yₖ) · x. The predicted probabilities p add up to 1, and so does "
    "the one-hot target y, so the three gradient rows add up to zero. Start at zero and the rows "
    "add up to zero forever: what one class gains, the others lose."
)
largest = float(np.abs(result.column_sums).max())
chrome.show_figure(column_sums_figure(result), key=f"{KEY}_sums", min_width=chrome.COLUMN_MIN_WIDTH)
st.caption(f"Largest column sum over all steps: {largest:.1e}. That is rounding error, not a real drift: "
           "these runs use float64, whose precision is about 1e-16 (float32 would show about 1e-7).")
