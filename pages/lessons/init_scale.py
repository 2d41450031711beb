"""Lesson 7: how big a random start. In a deep net the start's size decides if the signal fades, holds or explodes."""

from __future__ import annotations

import streamlit as st

from pages import chrome
from pages.lessons import common as lc
from symbreak.engine.trainer import load_dataset
from symbreak.figures.starts import curves_figure, data_figure, histograms_figure, layer_std_figure
from symbreak.lessons import init_scale

chrome.route_through_app()
lc.projector()

KEY = "lesson7"


@st.cache_data(max_entries=32, show_spinner=False)
def _result(activation: str, sigma: float, depth: int) -> init_scale.InitScale:
    """Deterministic for its arguments, so every student asking for the same run shares it."""
    return init_scale.init_scale(activation, sigma, depth)


@st.cache_resource(max_entries=64, show_spinner=False)
def _figures(activation: str, sigma: float, depth: int, row: int) -> tuple[str, str, str]:
    """The answer's layer figure at step `row`, its loss and its gap as JSON, drawn once per server: a class's
    reveal reruns every student's page at once, and drawing them took most of each page's run."""
    result = _result(activation, sigma, depth)
    return (layer_std_figure(result.act_std[:, row], result.grad_std[:, row], result.labels,
                             int(result.steps[row])).to_json(),
            curves_figure(result.steps, result.loss, result.labels, "Training loss", "loss").to_json(),
            curves_figure(result.steps, result.gap, result.labels, "Symmetry meter: layer 1's gap", "gap (log)",
                          log_y=True).to_json())


@st.cache_resource(max_entries=64, show_spinner=False)
def _histograms(activation: str, sigma: float, depth: int, which: str) -> tuple[str, str]:
    """One start's activations per layer at the first and the last step as JSON, drawn once per server for the
    same reason."""
    result = _result(activation, sigma, depth)
    run = result.labels.index(which)
    return tuple(histograms_figure([a[run] for a in layers], f"{which}: activations per layer at {when}").to_json()
                 for when, layers in (("step 0", result.first), (f"step {int(result.steps[-1]):,}", result.last)))


st.title("How big a random start")
st.markdown(
    f"A random start breaks the tie, but how large should it be? A deeper network ({init_scale.SCALE_WIDTH} neurons per "
    "hidden layer) on the circles data starts four ways: all zeros; every weight drawn from N(0, σ²) with your σ; "
    "Xavier (variance 2 / (fan_in + fan_out)); and He (variance 2 / fan_in). Each layer passes its signal on "
    "to the next: if each one shrinks it a little, the last layer hears almost nothing."
)
controls = st.columns(3)
activation = controls[0].radio("Activation", init_scale.SCALE_ACTIVATIONS, horizontal=True, key=f"{KEY}_activation")
depth = controls[1].slider("Hidden layers", min_value=2, max_value=8, value=init_scale.SCALE_DEPTH, key=f"{KEY}_depth")
sigma = controls[2].select_slider("σ of the N(0, σ²) start", options=init_scale.SIGMAS, value=init_scale.SCALE_SIGMA,
                                  format_func=lambda s: f"{s:g} ({init_scale.sigma_label(s)})", key=f"{KEY}_sigma")

guess = lc.predict(KEY, f"Start at σ = {sigma:g} ({init_scale.sigma_label(sigma)}): what happens to the signal on its "
                        f"way through {depth} {activation} layers?", init_scale.SIGNAL_CHOICES)
if guess is None:
    data = load_dataset(init_scale.scale_arms(activation, sigma, depth)[init_scale.NORMAL])
    chrome.show_figure(data_figure(data.x_train, data.y_train, data.classes, "The circles: predict, then look"),
                   key=f"{KEY}_data_figure")
    st.stop()

with st.spinner(f"Training four {depth}-layer networks…"):
    result = _result(activation, sigma, depth)
normal = result.labels.index(init_scale.NORMAL)
acts = result.act_std[normal, 0]
lc.reveal(guess, f"At step 0 the activations' std is {acts[0]:.2g} in layer 1 and {acts[-1]:.2g} in layer {depth}.",
          init_scale.signal_verdict(result, normal))

last = len(result.steps) - 1
row = st.select_slider("Show the layers at step", options=list(range(len(result.steps))), value=0,
                       format_func=lambda r: f"{int(result.steps[r]):,}", key=f"{KEY}_row")
std_json, loss_json, gap_json = _figures(activation, sigma, depth, row)
chrome.show_figure(std_json, key=f"{KEY}_std")
st.markdown("\n".join(f"- {s}" for s in init_scale.scale_sentences(result)))

left, right = st.columns(2)
with left:
    chrome.show_figure(loss_json, key=f"{KEY}_loss", min_width=chrome.COLUMN_MIN_WIDTH)
with right:
    chrome.show_figure(gap_json, key=f"{KEY}_gap", min_width=chrome.COLUMN_MIN_WIDTH)
st.caption("A small start is nearly tied: its neurons are close together, the loss sits on a plateau, and the "
           "gap grows only once the signal gets through. The zero start is exactly tied (gap 0, not drawn "
           "on a log axis).")

which = st.radio("Histograms of", result.labels, index=normal, horizontal=True, key=f"{KEY}_hist")
for part, histograms_json in enumerate(_histograms(activation, sigma, depth, which)):
    chrome.show_figure(histograms_json, key=f"{KEY}_hist{part}")
st.caption(f"Computed live on this server: 4 networks × {int(result.steps[last]):,} steps in {result.seconds:.1f} s.")
lc.playground_link(result.configs[init_scale.NORMAL], f"Open the σ = {sigma:g} start in the Playground")
