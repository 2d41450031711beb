"""Lesson 9: do random neurons still copy each other? Near-duplicate, dead and distinct neurons after training."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages import chrome
from pages.lessons import common as lc
from symbreak.figures.duplicates import counts_figure, maps_figure
from symbreak.figures.starts import data_figure
from symbreak.lessons import duplicates as dup
from symbreak.lessons.wasted import closest

chrome.route_through_app()
lc.projector()

KEY = "lesson9"
DRAWS = len(dup.DUP_SEEDS)
RUNS = len(dup.ARMS) * len(dup.DUP_WIDTHS) * DRAWS


@st.cache_data(max_entries=1, show_spinner=False)
def _result() -> dup.Duplicates:
    """A pure function of fixed inputs: trained once per server and shared, so a class opening it waits once.

    The progress bar lives inside, so a cached visit replays it already finished and gone.
    """
    return lc.train_with_progress(RUNS, dup.DUP_STEPS, dup.duplicates)


@st.cache_data(max_entries=8, show_spinner=False)
def _summary(_run: dup.Duplicates, steps: int, threshold: float) -> pd.DataFrame:
    """The counts at a threshold, made once per server: a class's reveal reruns every student's page at once.
    `_run`, the page's one stored result, is not hashed: its step count stands for it in the key (a shorter run,
    as the tests train, gets its own)."""
    return dup.summary(_run, threshold)


@st.cache_resource(max_entries=8, show_spinner=False)
def _counts(_run: dup.Duplicates, steps: int, threshold: float) -> str:
    """The answer's counts figure as JSON, drawn once per server for the same reason: drawing the figures took
    most of each page's run."""
    return counts_figure(_summary(_run, steps, threshold), threshold).to_json()


@st.cache_resource(max_entries=32, show_spinner=False)  # up to 0.8 MB each (64 neurons)
def _maps(_run: dup.Duplicates, steps: int, threshold: float, width: int, arm: str, draw: int) -> str:
    """One network's maps as JSON, drawn once per server for the same reason (the same key as `_counts`, and the
    network's controls)."""
    seed = _run.seeds[draw - 1]
    layer = _run.layers[arm, width, seed]
    found = dup.counts(layer, threshold)
    xs, ys, pre = dup.plane(_run, arm, width, seed)
    return maps_figure(xs, ys, pre, dup.clusters(layer, threshold), _run.dataset.x_train,
                       f"{arm}, {width} neurons, draw {draw}: {found['effective width']} distinct, "
                       f"{found['dead']} dead").to_json()


st.title("Do random neurons still copy each other?")
st.markdown(
    "A random start breaks the tie: no two neurons begin equal. But does every neuron then learn something of its "
    f"own? A layer of W relu neurons (W from 1 to 64) learns to tell two rings apart, with Adam for "
    f"{dup.DUP_STEPS:,} steps, from two random starts: a **small** one (every weight drawn from "
    f"N(0, {dup.SMALL_SIGMA}²)) and **He**'s (N(0, 2/fan-in)), each with and without dropout {dup.DUP_DROPOUT}, "
    f"{DRAWS} draws of each. After training every neuron is checked on the training points:\n"
    f"- **near-duplicate:** its outputs over the points are nearly another neuron's times a number: |cosine| > "
    f"{dup.THRESHOLD} (a slider below moves this line);\n"
    "- **dead:** the relu is off on every training point, so it sends nothing and learns nothing;\n"
    "- **distinct features (effective width):** how many groups the live neurons form, each a neuron and its "
    "near-duplicates."
)

choices = {f"all {dup.DUP_WIDTH}": dup.DUP_WIDTH, "about 24": 24, "about 16": 16, "about 8": 8}
guess = lc.predict(KEY, f"From a random He start, how many of {dup.DUP_WIDTH} neurons end up doing something "
                        "different?", list(choices))
if guess is None:
    data = dup.duplicates_dataset()
    chrome.show_figure(data_figure(data.x_train, data.y_train, data.classes, "The rings: predict, then look"),
                       key=f"{KEY}_data_figure")
    st.stop()

result = _result()
asked = _summary(result, result.steps, dup.THRESHOLD)
he = asked[(asked["arm"] == dup.HE) & (asked["width"] == dup.DUP_WIDTH)].iloc[0]
lc.reveal(guess, f"He start, {dup.DUP_WIDTH} neurons, {len(result.seeds)} draws: {he['effective width']:.1f} "
                 f"distinct features on average ({int(he['effective width low'])} to "
                 f"{int(he['effective width high'])}), "
                 f"{he['near-duplicates']:.1f} neurons with a near-duplicate (|cosine| > {dup.THRESHOLD}), "
                 f"{he['dead']:.1f} dead.",
          closest(float(he["effective width"]), choices))

threshold = st.select_slider("Near-duplicate when |cosine| is above", options=dup.THRESHOLDS, value=dup.THRESHOLD,
                             key=f"{KEY}_threshold")
table = _summary(result, result.steps, threshold)
chrome.show_figure(_counts(result, result.steps, threshold), key=f"{KEY}_counts")
controls = st.columns(4)
width = controls[0].select_slider("Neurons W", options=result.widths, value=dup.DUP_WIDTH, key=f"{KEY}_width")
start = controls[1].radio("Start", ("He", "small"), horizontal=True, key=f"{KEY}_start")
dropout = controls[2].toggle(f"Dropout {dup.DUP_DROPOUT}", key=f"{KEY}_dropout")
draw = controls[3].select_slider("Draw", options=range(1, len(result.seeds) + 1), value=1, key=f"{KEY}_draw")
st.markdown("\n".join(f"- {s}" for s in dup.duplicates_sentences(result, table, width, threshold)))

arm = {("He", False): dup.HE, ("He", True): dup.HE_DROPOUT, ("small", False): dup.SMALL,
       ("small", True): dup.SMALL_DROPOUT}[start, dropout]
seed = result.seeds[draw - 1]
chrome.show_figure(_maps(result, result.steps, threshold, width, arm, draw), key=f"{KEY}_maps")
st.caption("Each panel but the last is one group of near-duplicates: blue where its neurons are on (each scaled "
           "to its own largest output), and a black line where each one switches on. Lines on top of one another "
           "are neurons doing the same job. The last panel holds the neurons with no near-duplicate; dead ones "
           "are left out.")
st.caption(f"Computed live on this server, once: {result.networks} networks × {result.steps:,} steps in "
           f"{result.seconds:.1f} s.")
lc.playground_link(dup.duplicates_config(width, arm, seed, result.steps),
                   f"Open “{arm}, {width} neurons, draw {draw}” in the Playground")
st.caption("The Playground draws its rings from the run's seed: a draw after the first trains there on other points.")
