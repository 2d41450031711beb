"""Lesson 2: what breaks symmetry. Fourteen interventions from one constant start, measured live."""

from __future__ import annotations

import streamlit as st

from pages import chrome
from pages.lessons import common as lc
from symbreak.figures.lessons import breaker_figure
from symbreak.lessons import breakers as lesson

chrome.route_through_app()

KEY = "lesson2"
TIED_STYLE = "background-color: #D6E9F8; color: #0B4F8A; font-weight: 600"
SPLIT_STYLE = "background-color: #FBE0D0; color: #8A2E00; font-weight: 600"
TRAINING_ONLY = [row.label for row in lesson.INTERVENTIONS if set(row.changes) <= {"batch_size", "optimizer", "lr",
                                                                                    "weight_decay"} and row.changes]


@st.cache_data(max_entries=8, show_spinner=False)
def _matrix(steps: int) -> lesson.BreakerMatrix:
    """Deterministic for a step count, so every student asking for the same one shares the result."""
    return lesson.breaker_matrix(steps)


st.title("What breaks symmetry")
st.markdown(
    f"Fourteen copies of one network ({lesson.BREAKER_WIDTH} sigmoid neurons, coffee data) start with every "
    "weight at 0.5. Each copy changes one thing. They train together, right now, and we measure whether "
    "the hidden neurons are still identical at the end."
)
steps = st.slider("Training steps", min_value=50, max_value=1000, value=lesson.BREAKER_STEPS, step=50,
                  key=f"{KEY}_steps")
with st.spinner(f"Training 14 networks for {steps} steps…"):
    matrix = _matrix(steps)

table = matrix.table
split = table["outcome"] == lesson.SPLIT
st.markdown(
    f"**Split apart:** {', '.join(table.loc[split, 'intervention'])}.  \n"
    f"**Still identical to the last bit:** {', '.join(table.loc[~split, 'intervention'])}."
)

# Streamlit wraps a table's text only in rows taller than 4rem (68 px at this app's theme.baseFontSize of 17):
# then the "why" sentence gets two lines instead of being cut.
ROW_HEIGHT = 4 * (st.get_option("theme.baseFontSize") or 16) + 4
styled = table.style.apply(
    lambda column: [TIED_STYLE if v == lesson.TIED else SPLIT_STYLE for v in column], subset=["outcome"]
).format({"gap": lambda v: "0" if v == 0 else f"{v:.3g}", "final loss": "{:.3f}"})
st.dataframe(
    styled, hide_index=True, row_height=ROW_HEIGHT, height=ROW_HEIGHT * len(table) + 40, key=f"{KEY}_table",
    # Pixel widths that fit the whole table in the page's width (880 px, as the gradients lesson's table does):
    # each header and label on one line, and 300 px for "why", where every sentence takes at most two lines.
    # A wider page shares the spare room out among the columns.
    column_config={
        "intervention": st.column_config.TextColumn("change from the constant start", width=215),
        "outcome": st.column_config.TextColumn("outcome", width=80),
        "gap": st.column_config.NumberColumn("gap", width=65,
                                             help="largest distance between two neurons at the end"),
        "distinct neurons": st.column_config.NumberColumn(
            "distinct", width=65, help="groups of neurons equal within 1e-6, out of 8"),
        "final loss": st.column_config.NumberColumn("loss", width=55),
        "gap over steps": st.column_config.LineChartColumn("gap curve", width=100),
        "why": st.column_config.TextColumn("why", width=300),
    },
)
st.caption(f"Computed live on this server: {len(table)} runs × {matrix.steps} steps in {matrix.seconds:.1f} s "
           f"({matrix.batches} batched groups). Each sparkline has its own scale; a flat line means exactly zero.")

chrome.show_figure(breaker_figure(table, matrix.series, matrix.series_steps), key=f"{KEY}_figure")
training_only = table["intervention"].isin(TRAINING_ONLY)
if not split[training_only].any():
    st.markdown(
        "Notice what does **not** help: mini-batches, momentum, Adam and weight decay treat every neuron alike, "
        "so equal neurons get equal updates. Only something that differs between neurons, at the start or "
        "at random during training, can tell them apart."
    )

choice = st.selectbox("Open one row in the Playground", list(table["intervention"]), key=f"{KEY}_open")
config = matrix.configs[list(table["intervention"]).index(choice)]
lc.playground_link(config, f"Open “{choice}” in the Playground")
