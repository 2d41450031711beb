"""Lesson 8: the course's initialization experiment (zeros, N(0, 1)×10, He on two circles), computed live over
several draws of each random start and set beside the numbers the course printed."""

from __future__ import annotations

import streamlit as st

from pages import chrome
from pages.lessons import common as lc
from symbreak.figures.starts import boundaries_figure, data_figure, draws_figure
from symbreak.lessons import boundary, course

chrome.route_through_app()
lc.projector()

KEY = "lesson8"
DRAWS = len(course.COURSE_SEEDS)
RUNS = len(course.course_draws())


@st.cache_data(max_entries=1, show_spinner=False)
def _result() -> course.Course:
    """A pure function of fixed inputs: trained once per server and shared, so a class opening it waits once.

    The progress bar lives inside, so a cached visit replays it already finished and gone.
    """
    return lc.train_with_progress(RUNS, course.COURSE_STEPS, course.course_experiment)


@st.cache_resource(max_entries=1, show_spinner=False)
def _loss(_run: course.Course, steps: int) -> str:
    """The answer's loss figure as JSON, drawn once per server: a class's reveal reruns every student's page at
    once, and drawing the figures took most of each page's run. `_run`, the page's one stored result, is not hashed:
    its step count stands for it in the key (a shorter run, as the tests train, gets figures of its own)."""
    return draws_figure(_run.steps, _run.loss, list(_run.runs["start"]), "Training loss, one line per draw", "loss",
                        log_y=True).to_json()


@st.cache_resource(max_entries=8, show_spinner=False)
def _boundaries(_run: course.Course, steps: int, draw: int) -> str:
    """Each start's boundary at its `draw`-th draw as JSON, drawn once per server for the same reason."""
    shown = {name: _run.draw(name, draw) for name in _run.labels}
    draws = _run.table.set_index("start")["draws"]
    # One line each: a phone's stacked panels give a title one line of room.
    titles = [f"{name}{'' if draws[name] == 1 else f', draw {draw}'}: test {row['test accuracy']:.0%}"
              + ("" if boundary.flat_prediction(b) is None else ", no boundary") for name, (row, b) in shown.items()]
    return boundaries_figure({name: b for name, (_, b) in shown.items()}, titles,
                             course.course_dataset().classes).to_json()


def _spread(row, part: str) -> str:
    """'84% (52–97%)': the mean over the draws and their range (the mean alone for one draw)."""
    low, high = f"{row[f'{part} low']:.0%}", f"{row[f'{part} high']:.0%}"
    return f"{row[f'{part} accuracy']:.0%}" + ("" if low == high else f" ({low[:-1]}–{high})")


st.title("The course's initialization experiment")
st.markdown(
    "The classic exercise, run live: a 3-layer relu network (2 → 10 → 5 → 1, sigmoid output) learns to tell two "
    f"noisy concentric circles apart ({course.COURSE_TRAIN} training and {course.COURSE_TEST} test points). Plain "
    f"full-batch gradient descent, learning rate {course.COURSE_LR}, {course.COURSE_STEPS:,} steps, biases at zero. "
    "Only the starting weights differ: all zeros; N(0, 1) times 10; and He (N(0, 2/fan_in)). The course shows one "
    f"draw of each start; here each random start is drawn {DRAWS} times, to see how much the draw alone matters."
)
starts = list(course.COURSE_STARTS)
guess = lc.predict(KEY, f"After {course.COURSE_STEPS:,} steps, which start classifies the test points best?", starts)
if guess is None:
    data = course.course_dataset()
    chrome.show_figure(data_figure(data.x_train, data.y_train, data.classes, "The circles: predict, then look"),
                       key=f"{KEY}_data_figure")
    st.stop()

result = _result()
table = result.table.set_index("start")
best = str(table["test accuracy"].idxmax())
lc.reveal(guess, "Test accuracy, the mean over the draws: " + "; ".join(
    f"{name} {_spread(row, 'test')}" for name, row in table.iterrows()) + ".", best)

st.dataframe(
    [{"start": name, "draws": int(row["draws"]), "train": _spread(row, "train"), "test": _spread(row, "test"),
      "course train": f"{row['course train']:.0%}", "course test": f"{row['course test']:.0%}"}
     for name, row in table.iterrows()],
    hide_index=True, key=f"{KEY}_table", column_config={
        "train": st.column_config.TextColumn(help="share of training points right: the mean over the draws "
                                                  "(lowest–highest)"),
        "test": st.column_config.TextColumn(help="share of test points right: the mean over the draws "
                                                 "(lowest–highest)"),
        "course train": st.column_config.TextColumn(help="what the course's notebook printed for its one draw"),
        "course test": st.column_config.TextColumn(help="what the course's notebook printed for its one draw"),
    })
st.markdown("\n".join(f"- {s}" for s in course.course_sentences(result)))
first = result.runs.assign(first=result.loss[:, 0]).groupby("start", sort=False)["first"]
flat = boundary.flat_prediction(result.draw("zeros", 1)[1])
no_boundary = "." if flat is None else f": the network says P = {flat:.2f} at every point, with no boundary at all."
st.markdown(
    "Why the zero start never gets going: every hidden relu neuron outputs 0, so no gradient reaches the hidden "
    f"weights, and they stay equal, at zero{no_boundary} The start ten times too large begins at a loss between "
    f"{first.min()['N(0, 1)×10']:,.0f} and {first.max()['N(0, 1)×10']:,.0f}, against "
    f"{first.min()['He']:.2f} to {first.max()['He']:.2f} for He's start, which is scaled to each layer's fan-in."
)
steps = int(result.steps[-1])
chrome.show_figure(_loss(result, steps), key=f"{KEY}_loss")
draw = st.select_slider("Draw shown", options=range(1, DRAWS + 1), value=1, key=f"{KEY}_draw")
chrome.show_figure(_boundaries(result, steps, draw), key=f"{KEY}_boundaries")
st.caption(f"{len(result.runs)} networks × {steps:,} steps, trained as one batch in "
           f"{result.seconds:.1f} s on this server (once: later visitors get the stored result).")
choice = st.selectbox("Open one start in the Playground (on its own circles data)", starts, index=2,
                      key=f"{KEY}_open")
seed = int(result.draw(choice, draw)[0]["seed"])
lc.playground_link(result.configs[choice].with_flat(seed=str(seed)), f"Open “{choice}” in the Playground")
