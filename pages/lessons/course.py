"""Lesson 8: the course's initialization experiment (zeros, N(0, 1)×10, He on two circles), computed live."""

from __future__ import annotations

import streamlit as st

from pages import chrome
from pages.lessons import common as lc
from symbreak.figures.starts import boundaries_figure, curves_figure, data_figure
from symbreak.lessons import boundary, course

chrome.route_through_app()
lc.projector()

KEY = "lesson8"


@st.cache_data(max_entries=1, show_spinner=False)
def _result() -> course.Course:
    """A pure function of fixed inputs: trained once per server and shared, so a class opening it waits once.

    The progress bar lives inside, so a cached visit replays it already finished and gone.
    """
    bar = st.progress(0.0, text=f"Training the three networks for {course.COURSE_STEPS:,} steps…")
    result = course.course_experiment(
        progress=lambda done: bar.progress(done, text=f"Training: {done:.0%} of {course.COURSE_STEPS:,} steps"))
    bar.empty()
    return result


st.title("The course's initialization experiment")
st.markdown(
    "The classic exercise, run live: a 3-layer relu network (2 → 10 → 5 → 1, sigmoid output) learns to tell two "
    f"noisy concentric circles apart ({course.COURSE_TRAIN} training and {course.COURSE_TEST} test points). Plain "
    f"full-batch gradient descent, learning rate {course.COURSE_LR}, {course.COURSE_STEPS:,} steps, biases at zero. "
    "Only the starting weights differ: all zeros; N(0, 1) times 10; and He (N(0, 2/fan_in))."
)
starts = list(course.COURSE_STARTS)
guess = lc.predict(KEY, f"After {course.COURSE_STEPS:,} steps, which start classifies the test points best?", starts)
if guess is None:
    data = course.course_dataset()
    chrome.show_figure(data_figure(data.x_train, data.y_train, data.classes, "The circles: predict, then look"),
                   key=f"{KEY}_data_figure")
    st.stop()

with st.spinner("Training on this server, once for everyone: a visitor who arrives during the run waits for it…"):
    result = _result()
table = result.table.set_index("start")
best = str(table["test accuracy"].idxmax())
lc.reveal(guess, " ".join(f"{name}: {row['test accuracy']:.0%} of the test points." for name, row in table.iterrows()),
          best)

st.dataframe(result.table.assign(**{c: result.table[c].map("{:.0%}".format)
                                    for c in ("train accuracy", "test accuracy")}),
             hide_index=True, key=f"{KEY}_table",
             column_config={"final loss": st.column_config.NumberColumn(format="%.4f")})
st.markdown("\n".join(f"- {s}" for s in course.course_sentences(result)))
first = dict(zip(result.labels, result.loss[:, 0]))
st.markdown(
    "Why the zero start never gets going: every hidden relu neuron outputs 0, so no gradient reaches the hidden "
    f"weights, and they stay equal, at zero. The start ten times too large begins at a loss of "
    f"{first['N(0, 1)×10']:,.0f}, against {first['He']:.2f} for He's start, which is scaled to each layer's fan-in."
)
chrome.show_figure(curves_figure(result.steps, result.loss, result.labels, "Training loss", "loss", log_y=True),
               key=f"{KEY}_loss")
titles = [f"{name}: test {table.loc[name, 'test accuracy']:.0%}"
          + ("" if (flat := boundary.flat_prediction(result.boundaries[name])) is None
             else f"<br>P = {flat:.2f} everywhere: no boundary") for name in result.labels]
chrome.show_figure(boundaries_figure(result.boundaries, titles, course.course_dataset().classes), key=f"{KEY}_boundaries")
st.caption(f"{len(result.labels)} networks × {course.COURSE_STEPS:,} steps, trained as one batch in "
           f"{result.seconds:.1f} s on this server (once: later visitors get the stored result).")
choice = st.selectbox("Open one start in the Playground (on its own circles data)", starts, index=2,
                      key=f"{KEY}_open")
lc.playground_link(result.configs[choice], f"Open “{choice}” in the Playground")
