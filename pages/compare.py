"""Lesson 5: compare two to four configurations side by side, on the same data and seed."""

from __future__ import annotations

from collections.abc import Callable

import plotly.graph_objects as go
import streamlit as st

from pages import chrome, session
from pages.lessons import common as lc
from symbreak.data.dataset import DataError
from symbreak.engine import comparison
from symbreak.engine import probe as P
from symbreak.engine.trainer import Trainer
from symbreak.figures import live as F
from symbreak.figures import tabs as T
from symbreak.figures.lessons import share_y_range
from symbreak.settings.config import BUILTIN_DATASETS, MAX_SEED
from symbreak.settings.presets import PRESETS
from symbreak.settings.values import ConfigError

chrome.route_through_app()

KEY = "compare"
View = Callable[[Trainer, int], go.Figure]


def _names(trainer: Trainer) -> list[str]:
    return list(trainer.dataset.feature_names)


VIEWS: dict[str, View] = {
    "Symmetry meter": lambda t, r: F.symmetry_figure(t.history, run=r, tol=t.configs[r].tol, height=320),
    "Neuron trajectories": lambda t, r: F.trajectories_figure(t.history, run=r, tol=t.configs[r].tol,
                                                              names=_names(t)),
    "Weight space": lambda t, r: T.weight_space_figure(t.history, run=r, tol=t.configs[r].tol, names=_names(t)),
    "Distances between neurons": lambda t, r: T.distance_figure(t.history, run=r),
    "Loss and accuracy": lambda t, r: F.loss_figure(t.history, run=r, task=t.task, height=320),
    "Network": lambda t, r: T.network_figure(t.history, run=r, tol=t.configs[r].tol, names=_names(t)),
    "Gradients": lambda t, r: T.gradient_figure(t.history, run=r, names=_names(t)),
    "What each neuron computes": lambda t, r: T.activation_maps_figure(P.of_run(t, run=r), t.history, run=r,
                                                                       tol=t.configs[r].tol, activation=t.activation,
                                                                       names=_names(t)),
    "Prediction": lambda t, r: T.decision_figure(P.of_run(t, run=r), t.dataset, t.history),
}
NEEDS_HIDDEN = {"Symmetry meter", "Neuron trajectories", "Weight space", "Distances between neurons", "Gradients",
                "What each neuron computes"}
DEFAULT_VIEWS = ("Symmetry meter", "Weight space")
SHARED_AXES = {"Symmetry meter"}  # drawn on one y range across the columns


def _comparison(names: tuple[str, ...], dataset: str, seed: int) -> comparison.Comparison:
    """A new comparison of these presets on this data and seed."""
    configs = comparison.Comparison.preset_configs(names, seed, {"dataset": dataset})
    return comparison.Comparison(configs, names, dataset=session.cached_dataset(configs[0]))


st.title("Compare")
st.markdown(
    "Two to four configurations, same data, same seed, trained side by side. "
    "Pick presets, press Step, and watch which networks keep their neurons identical."
)
controls = st.columns([3, 1, 1])
chosen = controls[0].multiselect("Configurations (presets)", list(PRESETS), default=list(comparison.COMPARE_DEFAULT),
                                 max_selections=comparison.MAX_COMPARE, key=f"{KEY}_presets")
dataset = controls[1].selectbox("Data", BUILTIN_DATASETS, key=f"{KEY}_dataset")
seed = int(controls[2].number_input("Seed", min_value=0, max_value=MAX_SEED, value=0, step=1, key=f"{KEY}_seed"))
if len(chosen) < 2:
    st.info("Choose at least two configurations to compare.")
    st.stop()
try:
    wanted = (tuple(chosen), dataset, seed)  # this session's comparison is made again when the choice changes
    comparison = session.kept(f"{KEY}_comparison", wanted, lambda: _comparison(*wanted))
except (ConfigError, DataError, ValueError) as error:
    st.error(chrome.plain(f"These configurations cannot run on {dataset}: {error}"))
    st.stop()

with st.container(horizontal=True, vertical_alignment="center"):  # buttons as wide as their labels
    for label, n in (("Step", 1), ("Step 10", 10), ("Step 100", 100)):
        if st.button(label, type="primary" if n == 100 else "secondary", key=f"{KEY}_step{n}"):
            with st.spinner(f"Training {n} steps…"):
                comparison.step(n)
    if st.button("Reset", key=f"{KEY}_reset"):
        comparison.reset()
    together = "as one batched run" if comparison.batches == 1 else f"in {comparison.batches} batched groups"
    st.markdown(f"**Step {comparison.step_count}** · {len(chosen)} configurations trained {together}",
                width="content")

views = st.multiselect("Views", list(VIEWS), default=list(DEFAULT_VIEWS), max_selections=3, key=f"{KEY}_views")
runs = list(zip(comparison.names, comparison.configs, comparison.placement))
figures = {(name, view): VIEWS[view](trainer, run) for name, config, (trainer, run) in runs for view in views
           if config.model.hidden or view not in NEEDS_HIDDEN}
for view in SHARED_AXES & set(views):
    share_y_range([fig for (_, v), fig in figures.items() if v == view])
for column, (name, config, (trainer, run)) in zip(st.columns(len(runs)), runs):
    with column:
        st.subheader(name)
        st.caption(PRESETS[name][0])
        chrome.divergence_banner(trainer, run)
        if config.model.hidden:
            st.markdown(f"**{F.symmetry_summary(trainer.history, run=run, tol=config.tol).text}**")
        for view in views:
            if (name, view) in figures:
                chrome.show_figure(figures[name, view], key=f"{KEY}_{name}_{view}",
                                   min_width=chrome.COLUMN_MIN_WIDTH)
            else:
                st.info(f"{view}: this network has no hidden layer.")
        lc.playground_link(config, f"Open {name} in the Playground")

summary = comparison.summary()
st.dataframe(
    summary.assign(**{"train accuracy": 100 * summary["train accuracy"],
                      "diverged": [message or "no" for message in summary["diverged"]]}),
    hide_index=True, key=f"{KEY}_summary",
    column_config={"gap": st.column_config.NumberColumn("gap", format="%.3g"),
                   "train loss": st.column_config.NumberColumn(format="%.4f"),
                   "train accuracy": st.column_config.NumberColumn(format="%.1f%%")},
)
