"""Lesson: the lottery ticket. Prune the smallest weights, rewind the rest to their start, train again: does the
rewound start matter? And what does pruning do to a tied network?"""

from __future__ import annotations

import streamlit as st

from pages import chrome
from pages.lessons import common as lc
from symbreak.engine.trainer import load_dataset
from symbreak.figures.starts import data_figure
from symbreak.figures.ticket import accuracy_figure, network_figure
from symbreak.lessons import ticket

chrome.route_through_app()
lc.projector()

KEY = "lesson_ticket"
RUNS = ticket.TICKET_SEEDS * (2 * ticket.TICKET_ROUNDS + 1)


@st.cache_data(max_entries=1, show_spinner=False)
def _result() -> ticket.Ticket:
    """A pure function of fixed inputs: trained once per server and shared; the progress bar lives inside, so a
    cached visit replays it already finished and gone."""
    bar = st.progress(0.0, text=f"Training {RUNS} networks over {ticket.TICKET_ROUNDS} rounds of pruning…")
    result = ticket.lottery(progress=lambda done, text: bar.progress(done, text=f"Pruning and retraining: {text}"))
    bar.empty()
    return result


@st.cache_resource(max_entries=1, show_spinner=False)
def _accuracy(_run: ticket.Ticket) -> str:
    """The answer's accuracy figure as JSON, drawn once per server: a class's reveal reruns every student's page at
    once, and drawing the figures took most of each page's run. `_run`, the page's one stored result (of fixed
    inputs), is not hashed."""
    return accuracy_figure(_run.summary, _run.seeds).to_json()


@st.cache_resource(max_entries=16, show_spinner=False)
def _network(_run: ticket.Ticket, shown: int) -> str:
    """Seed 0's ticket after round `shown` as JSON, drawn once per server for the same reason."""
    return network_figure(_run.layers[shown], f"Seed 0's ticket after round {shown}: "
                                              f"{_run.summary['weights left'].iloc[shown]:.0%} of the weights, "
                                              "trained").to_json()


st.title("The lottery ticket")
st.markdown(
    f"A network of {ticket.TICKET_WIDTH} relu neurons learns the two moons from a random start (He). Then: cut the "
    f"{ticket.PRUNE_FRACTION:.0%} of each layer's remaining weights that ended smallest, put every surviving weight "
    f"back to the value it started from, and train again. Repeat {ticket.TICKET_ROUNDS} times, down to about 5% "
    "of the weights. Frankle and Carbin (2019) call the pruned network rewound to its own start a *winning "
    "ticket*: its start may have been lucky. To test the luck, each mask is also trained from a fresh random start."
)
ASKED = f"{1 - ticket.ASKED_LEFT:.0%}"
choices = (ticket.BETTER, ticket.SAME_ANSWER, ticket.WORSE)
guess = lc.predict(KEY, f"Prune {ASKED} of the weights and restart the rest from the same random values they had: "
                        "better, the same or worse than the same network from a fresh random start?", choices)
if guess is None:
    data = load_dataset(ticket.ticket_config(0))
    chrome.show_figure(data_figure(data.x_train, data.y_train, data.classes, "The moons: predict, then look"),
                       key=f"{KEY}_data_figure")
    st.stop()

result = _result()
asked = ticket.nearest_round(result, ticket.ASKED_LEFT)
lc.reveal(guess, f"With {asked['weights left']:.0%} of the weights left, test accuracy over {result.seeds} seeds: "
                 f"the ticket {asked[f'{ticket.TICKET} mean']:.1%}, a fresh start "
                 f"{asked[f'{ticket.FRESH} mean']:.1%}, the dense network {asked[f'{ticket.DENSE} mean']:.1%}.",
          ticket.compare(asked[f"{ticket.TICKET} mean"], asked[f"{ticket.FRESH} mean"]))

chrome.show_figure(_accuracy(result), key=f"{KEY}_accuracy")
st.markdown("\n".join(f"- {s}" for s in ticket.ticket_sentences(result)))

rounds = list(range(len(result.layers)))
shown = st.select_slider("Pruning round", options=rounds, value=int(asked["round"]), key=f"{KEY}_round",
                         format_func=lambda r: f"{r} ({result.summary['weights left'].iloc[r]:.0%} left)")
row = result.summary.iloc[shown]
chrome.show_figure(_network(result, shown), key=f"{KEY}_network")
st.caption("Blue lines are positive weights, vermilion negative, thicker for larger; pruned weights are not drawn, "
           "and a grey neuron has lost every weight in or out. "
           f"Computed live on this server: {result.networks} networks in {result.seconds:.1f} s.")
in_playground, fresh_start = ticket.playground_configs(result, shown)
st.caption(f"The links carry round {shown}'s mask ({row['weights left']:.0%} of the weights): the Playground draws "
           f"the pruned weights grey and dotted. Train {ticket.TICKET_STEPS} steps there (Step 100, three times) to "
           "reach this page's numbers for seed 0.")
lc.playground_link(in_playground, "Open the ticket in the Playground")
lc.playground_link(fresh_start, "The same mask from a fresh random start")
lc.playground_link(ticket.ticket_config(0), "Open the dense network in the Playground")
