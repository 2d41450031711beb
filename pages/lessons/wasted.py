"""Lesson 6: why a tie wastes the network. W tied neurons do no better than one; random or dropout ones do."""

from __future__ import annotations

import streamlit as st

from pages import chrome
from pages.lessons import common as lc
from symbreak.engine.trainer import load_dataset
from symbreak.figures.starts import boundaries_figure, data_figure, sweep_figure
from symbreak.lessons import wasted

chrome.route_through_app()
lc.projector()

KEY = "lesson6"
WIDTHS = (2, 4, 8, 16, 32, 64)


@st.cache_data(max_entries=16, show_spinner=False)
def _result(dataset: str, width: int, steps: int) -> wasted.Wasted:
    """Deterministic for its arguments, so every student asking for the same run shares it."""
    return wasted.wasted(dataset, width, steps)


@st.cache_resource(max_entries=16, show_spinner=False)
def _figures(dataset: str, width: int, steps: int) -> tuple[str, str]:
    """The answer's two figures as JSON, drawn once per server: a class's reveal reruns every student's page at
    once, and drawing them took most of each page's run."""
    result = _result(dataset, width, steps)
    table = result.table.set_index("network")
    one = float(table.loc[wasted.ONE, "test accuracy"])
    titles = [f"{name}<br>{int(row['effective width'])} distinct · test {row['test accuracy']:.0%}"
              for name, row in table.iterrows()]
    data_classes = load_dataset(result.configs[wasted.ONE]).classes
    return (boundaries_figure(result.boundaries, titles, data_classes, cols=2, panel_height=380).to_json(),
            sweep_figure(result.sweep, one).to_json())


st.title("Why a tie wastes the network")
st.markdown(
    "Neurons that start equal and train without anything random stay equal. So what? Here is a task no single "
    "neuron can solve: one straight boundary cannot put a ring around a disc. Four networks train on it side by "
    "side: one neuron; W neurons tied (every weight 0.5); the same tied neurons with dropout 0.2; and W random "
    "neurons (Xavier). Each is a tanh layer trained with Adam."
)
controls = st.columns(3)
dataset = controls[0].radio("Data", wasted.WASTED_DATASETS, horizontal=True, key=f"{KEY}_data")
width = controls[1].select_slider("Neurons W", options=WIDTHS, value=wasted.WASTED_WIDTH, key=f"{KEY}_width")
steps = controls[2].slider("Training steps", min_value=100, max_value=2000, value=wasted.WASTED_STEPS, step=100,
                           key=f"{KEY}_steps")

guess_choices = ("as well as one neuron", "as well as the random layer", "somewhere in between")
guess = lc.predict(KEY, f"{width} tied neurons on {dataset}: how well will they do?", guess_choices)
if guess is None:
    data = load_dataset(wasted.wasted_config(dataset, 1, wasted.RANDOM_INIT))
    chrome.show_figure(data_figure(data.x_train, data.y_train, data.classes, f"The {dataset} data: predict, then look"),
                   key=f"{KEY}_data_figure")
    st.stop()

with st.spinner(f"Training a network of each width, tied and random, for {steps} steps…"):
    result = _result(dataset, width, steps)
table = result.table.set_index("network")
one, tied, rand = (float(table.loc[n, "test accuracy"]) for n in (wasted.ONE, wasted.TIED, wasted.RANDOM))
middle = (one + rand) / 2
nearest = wasted.closest(tied, {guess_choices[0]: one, guess_choices[1]: rand, guess_choices[2]: middle})
lc.reveal(guess, f"On the test set: one neuron {one:.0%}, {width} tied {tied:.0%}, {width} random {rand:.0%}.",
          nearest)

boundaries_json, sweep_json = _figures(dataset, width, steps)
chrome.show_figure(boundaries_json, key=f"{KEY}_boundaries")
st.markdown("\n".join(f"- {s}" for s in wasted.wasted_sentences(result)))

shown = result.table.assign(**{c: result.table[c].map("{:.0%}".format) for c in ("train accuracy", "test accuracy")})
st.dataframe(shown, hide_index=True, key=f"{KEY}_table", column_config={
    "network": st.column_config.TextColumn(width=120),
    "neurons": st.column_config.NumberColumn(width=70),
    "effective width": st.column_config.NumberColumn(width=110, help="distinct neurons at the end (equal within 1e-6)"),
    "train accuracy": st.column_config.TextColumn("train", width=70, help="share of training points right"),
    "test accuracy": st.column_config.TextColumn("test", width=70, help="share of test points right"),
    "final loss": st.column_config.NumberColumn("loss", width=70, format="%.3f"),
})
chrome.show_figure(sweep_json, key=f"{KEY}_sweep")
st.caption(f"Computed live on this server: {result.networks} networks × {result.steps:,} steps "
           f"in {result.seconds:.1f} s.")
choice = st.selectbox("Open one network in the Playground", list(result.configs), index=1, key=f"{KEY}_open")
lc.playground_link(result.configs[choice], f"Open “{choice}” in the Playground")
