"""The Playground: train one small network step by step and watch its hidden neurons tie or split.

The sidebar holds the configuration (every field also lives in the URL). The
main area is a fragment: the controls (a row on top), Step, Reset, the
look-back slider and the tabs rerun only it. Inside it, the headline, the
live chart (trajectories and symmetry meter: one plotly figure) and the loss
chart are a smaller fragment, the only part Play reruns: one run per batch
of frames. A long Step N runs the same way, a slice of training per frame,
under a progress bar with Stop. `?present=1` shows only the views and Play/Step.

The page forwards the clicks on Step, Play, Stop and Reset and the chart's
reports of drawn batches to one `Playback` per session and draws what it
returns. `playback()` is that object (kept under "playground.playback"): the
tests and the bench reach it there, to shorten a slice or to deliver the
report the chart would send.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from pages import access, charts, chrome, classroom, links, session, sidebar
from symbreak.engine import probe as P
from symbreak.engine.trainer import Trainer
from symbreak.figures import describe as D
from symbreak.figures import live as F
from symbreak.figures import parts as FP
from symbreak.figures import style
from symbreak.figures import tabs as T
from symbreak.playback import Batch, Mode, Playback
from symbreak.settings.presets import DEFAULT_PRESET, preset

chrome.route_through_app()

SLOT = "playground"
LOSS_HEIGHT = 300
# Narrower than this (a 1024-pixel projector with the sidebar open), the live and loss charts are scaled down
# whole: their side-by-side panels would otherwise run into each other.
LIVE_MIN_WIDTH = 820
LOSS_MIN_WIDTH = 600
DEFAULT_N = 100
MAX_N = 1000
DEFAULT_PER_FRAME = 5
MAX_PER_FRAME = 500
TABS = ("Weight space", "Distances", "Gradients", "Network", "Input plane")
# The keys that press the run's buttons (listed in a popover; pages/access.js never fires them while typing).
SHORTCUTS = (
    access.Shortcut(("1",), "Step 1", f"{SLOT}.step1"),
    access.Shortcut(("n",), "Step N", f"{SLOT}.stepn"),
    access.Shortcut(("p", "space"), "Play or Pause", f"{SLOT}.play"),
    access.Shortcut(("r",), "Reset", f"{SLOT}.reset"),
    access.Shortcut(("l",), "Next hidden layer shown", f"{SLOT}.layer", cycle=True),
)
# On a phone the controls are the first thing under the headline (see the file).
CSS = (Path(__file__).with_name("playground.css")).read_text(encoding="utf-8")


def _key(part: str) -> str:
    return f"{SLOT}.{part}"


def playback() -> Playback:
    """This session's Play, long Step N and their batches (one object, under "playground.playback")."""
    return st.session_state.setdefault(_key("playback"), Playback())


# ------------------------------------------------------------------ callbacks (run before the rerun)
def _said() -> None:
    """The run takes its first step: the notice of what the last change did and any error messages (a bad link
    or upload, for instance) have been read, and give their room back to the views."""
    st.session_state.pop(_key("new_run"), None)
    session.RunSlot(SLOT).set_errors([])


def _step(n_key: str | None) -> None:
    """Ask for n steps: the main area trains them (see `_advance`)."""
    n = int(st.session_state.get(n_key, DEFAULT_N)) if n_key else 1
    _said()
    playback().request(n, session.RunSlot(SLOT).version)


def _stop() -> None:
    """Stop a long Step N: the steps made so far are kept."""
    playback().stop()


def _reset() -> None:
    _stop()
    session.RunSlot(SLOT).trainer.reset()


def _new_seed() -> None:
    session.RunSlot(SLOT).propose({"seed": sidebar.new_seed()})
    _stop()


def _set_playing(playing: bool) -> None:
    """Play or pause; idempotent, so a click delivered twice cannot undo itself. Play ends a long Step N."""
    slot = session.RunSlot(SLOT)
    if playing and not slot.trainer.all_diverged:
        playback().play(slot.version)
    else:
        playback().pause()
    _said()


# ------------------------------------------------------------------ pieces of the main area
def _controls(trainer: Trainer, present: bool, playing: bool, busy: bool) -> None:
    """Step 1, Step N, Play/Pause, steps per frame, Reset, New random seed and the look-back slider, in one row.

    While a long Step N is being trained (`busy`), the step buttons wait for it.
    """
    diverged = trainer.all_diverged or classroom.paused()  # a class paused by its teacher steps nothing
    with st.container(horizontal=True, vertical_alignment="bottom", gap="small", key=_key("controls")):
        st.button("Step 1", key=_key("step1"), on_click=_step, args=(None,), disabled=diverged or playing or busy,
                  help="One update of every weight.")
        n = st.number_input("N", min_value=1, max_value=MAX_N, value=DEFAULT_N, step=10, key=_key("n"), width=110,
                            help=f"How many updates 'Step N' makes (1 to {MAX_N:,}).")
        st.button(f"Step {int(n)}", key=_key("stepn"), on_click=_step, args=(_key("n"),),
                  disabled=diverged or playing or busy,
                  help="Make N updates, then redraw (a long one shows its progress and can be stopped).")
        st.button("Pause" if playing else "Play", key=_key("play"), on_click=_set_playing, args=(not playing,), type="primary",
                  disabled=diverged and not playing,
                  help="Train continuously and redraw the chart after every few steps, as fast as this browser "
                       "draws (up to 20 times a second).")
        if not present:
            st.number_input("Steps per frame", min_value=1, max_value=MAX_PER_FRAME, value=DEFAULT_PER_FRAME,
                            key=_key("per_frame"), width=140, help="Updates between two redraws while playing.")
            st.button("Reset", key=_key("reset"), on_click=_reset, disabled=playing,
                      help="Back to step 0 with the same starting weights (same seed).")
            st.button("New random seed", key=_key("seed"), on_click=_new_seed,
                      help="A new run with a fresh seed: new data, new random starting weights and dropout masks.")
        if not (present or playing or busy):  # while playing or stepping, the views follow the newest step
            st.slider("Look back at step", 0, max(trainer.step_count, 1), key=_key("view_step"),
                      disabled=trainer.step_count == 0, width="stretch",
                      help="Drag back to see any recorded step; every view follows. Drag to the right end to "
                           "follow training again.")


def _advance(trainer: Trainer, layer: int) -> Batch | None:
    """Train what the playback has due and make its batch: the live figure after each frame, the headline
    numbers and the loss chart after the last (`Batch.end`); the batch in flight when nothing is due, None when
    idle or when this training ended the Step N or Play.

    A Step N that takes longer than a slice is trained over several runs of
    the live area, paced by the chart as Play is, each drawing the live charts
    and a progress bar: the charts move while it trains and Stop stays clickable.
    """
    def frame() -> str:
        return _live_figure(trainer, layer, trainer.history.count - 1)

    def end() -> tuple[F.Summary, str]:
        last = trainer.history.count - 1
        return _summary(trainer, layer, last), _loss_view(trainer, last)

    per_frame = int(st.session_state.get(_key("per_frame"), DEFAULT_PER_FRAME))
    return playback().next_batch(trainer, frame, per_frame, end=end, view=layer)


def _progress(pb: Playback) -> None:
    """The bar of a long Step N, with its Stop button."""
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.progress(pb.done / pb.total, text=f"Training: step {pb.done:,} of {pb.total:,}")
        st.button("Stop", key=_key("stop"), on_click=_stop, icon=":material/stop_circle:",
                  help="Stop here: the steps made so far are kept.")


def _row_shown(trainer: Trainer, present: bool, playing: bool) -> int:
    """The history row the views show: the look-back slider's step, which follows the newest unless moved back."""
    last = trainer.step_count
    key, end_key = _key("view_step"), _key("slider_end")
    previous = st.session_state.get(key, last)
    at_end = previous >= st.session_state.get(end_key, 0)
    st.session_state[key] = last if (at_end or playing or present) else min(previous, last)
    st.session_state[end_key] = last
    return trainer.history.row_of_step(int(st.session_state[key]))


def _layer_shown(trainer: Trainer) -> int:
    """The hidden layer the views show (the picker's choice; layer 0 when there is one or none)."""
    hidden = len(trainer.config.model.hidden)
    if hidden <= 1:
        return 0
    key = _key("layer")
    if st.session_state.get(key) not in range(hidden):
        st.session_state[key] = 0
    return int(st.session_state[key])


def _layer_choice(trainer: Trainer) -> None:
    """The picker of the layer shown, when there are several hidden layers."""
    hidden = len(trainer.config.model.hidden)
    if hidden > 1:
        st.segmented_control("Layer shown", list(range(hidden)), format_func=lambda i: f"hidden layer {i + 1}",
                             key=_key("layer"), required=True, help="Which hidden layer the views show.")


def _headline(trainer: Trainer, summary: F.Summary, layer: int) -> None:
    """The lesson at a glance: how many neurons are distinct, in large coloured type, and what this run is."""
    where = FP.layer_title(trainer.history, layer)
    colour = "blue" if summary.gap == 0 else "orange" if summary.distinct < summary.neurons else "green"
    # A row whose right part is as wide as the count needs: in a narrow window the headline wraps, never the count.
    row = st.container(horizontal=True, vertical_alignment="center", wrap=False, gap="medium", key=_key("headline"))
    left = row.container()
    left.markdown(f"## :{colour}[{summary.text}]")
    note = "no hidden layer, so these are the output units" if not trainer.config.model.hidden else where
    line = f"Step {summary.step:,} · {note} · {sidebar.config_summary(trainer.config)}"
    cut_off = D.cut_off_sentence(trainer.history, layer)
    if cut_off:
        line += f" · {cut_off}"
    if trainer.step_count == 0:
        line += " · **Press Play or Step 100 and watch the lines.**"
    badge = ""
    new_run = st.session_state.get(_key("new_run"))
    if new_run:  # what the last change did, until the run takes its first step (a toast would cover the count)
        text = new_run.replace("[", "(").replace("]", ")")  # brackets would end the badge
        badge = f":orange-badge[:material/restart_alt: {text}] "
    pruned = D.pruned_sentence(trainer.history)
    if pruned:  # a mask holds some weights at 0: the charts draw them grey and dotted
        badge += f":violet-badge[:material/content_cut: {pruned}] "
    left.markdown(f"{badge}:gray[{line}]")
    row.metric("Distinct neurons", f"{summary.distinct} of {summary.neurons}", width="content",
                 help=f"In the {where}: groups of neurons whose weights and bias are equal (within the tolerance; "
                      "to the last bit when it is 0).")


def _summary(trainer: Trainer, layer: int, row: int) -> F.Summary:
    """The headline numbers at one history row."""
    return F.symmetry_summary(trainer.history, layer, row=row, tol=trainer.config.tol)


def _live_figure(trainer: Trainer, layer: int, row: int) -> str:
    """The live figure (trajectories and symmetry meter) at one history row, as figure JSON."""
    return F.live_json(trainer.history, layer, row=row, tol=trainer.config.tol,
                       names=list(trainer.dataset.feature_names), max_points=_point_budget(trainer, layer))


def _point_budget(trainer: Trainer, layer: int) -> int:
    """Points per trace for the layer's charts (fewer for wide layers, see `style.point_budget`)."""
    fan_out, fan_in = trainer.layout.slices[layer][2:]
    return style.point_budget(fan_out, fan_in + 1)


def _loss_view(trainer: Trainer, row: int) -> str:
    """The loss chart at one history row, as figure JSON."""
    return F.loss_json(trainer.history, row=row, task=trainer.task, height=LOSS_HEIGHT)


def _volume() -> float | None:
    """The live chart's sound volume (0 to 1) while "Listen to the neurons" is on, else None."""
    return st.session_state.get(_key("volume"), 30) / 100 if st.session_state.get(_key("sound")) else None


def _aids(trainer: Trainer, layer: int, row: int, moving: bool) -> None:
    """Beside the live chart, for a reader who cannot see it: the Data table (each neuron's weights at the step
    shown and its group of tied neurons; computed only while open, and not while playing or training a long
    Step N), the sound switch and the list of keyboard shortcuts."""
    with st.container(horizontal=True, vertical_alignment="top", gap="small"):
        section = st.expander("Data: each neuron's weights now", icon=":material/table:", key=_key("x.table"),
                              on_change="rerun", width="stretch")
        if st.toggle("Listen to the neurons", key=_key("sound"), help="One tone per group of tied neurons in the "
                     "layer shown, while playing and briefly after a Step: tied neurons sound as one note, a "
                     "split as a chord."):
            st.slider("Volume", 0, 100, 30, key=_key("volume"), format="%d%%", width=160)
        access.shortcuts_help(SHORTCUTS)
    with section:
        if not section.open:
            return
        if moving:
            st.info("This table is drawn when you pause.", icon=":material/pause_circle:")
            return
        table = D.weights_table(trainer.history, layer, row=row, tol=trainer.config.tol,
                                names=list(trainer.dataset.feature_names))
        st.caption(D.run_sentence(trainer.history, layer, row=row, tol=trainer.config.tol))
        st.dataframe(table.style.format("{:.6g}", subset=list(table.columns[:-1])))


def _secondary(trainer: Trainer, layer: int, row: int, playing: bool, busy: bool) -> None:
    """The other views, in tabs; only the open tab is computed, and not while playing or training a long Step N
    (to keep them fast)."""
    history, tol = trainer.history, trainer.config.tol
    names = list(trainer.dataset.feature_names)
    tabs = [t for t in TABS if t != "Input plane" or trainer.dataset.n_features <= 2]
    key = _key("tab")
    if st.session_state.get(key) not in (None, *tabs):
        del st.session_state[key]
    opened = dict(zip(tabs, st.tabs(tabs, key=key, on_change="rerun")))
    name = next((t for t, tab in opened.items() if tab.open), tabs[0])
    with opened[name]:
        if playing:
            st.info("This view is drawn when you pause: while playing, only the chart above is redrawn.",
                    icon=":material/pause_circle:")
        elif busy:
            st.info("This view is drawn when the steps are done: while they train, only the charts above are "
                    "redrawn.", icon=":material/hourglass_top:")
        elif name == "Weight space":
            chrome.show_figure([T.weight_space_json(history, layer, row=row, tol=tol, names=names,
                                                max_points=_point_budget(trainer, layer))],
                           key=_key("weight_space"))
        elif name == "Distances":
            chrome.show_figure(T.distance_figure(history, layer, row=row), key=_key("distances"))
        elif name == "Gradients":
            chrome.show_figure(T.gradient_figure(history, layer, row=row, names=names), key=_key("gradients"))
        elif name == "Network":
            outputs = trainer.dataset.classes if trainer.task == "multiclass" else None
            chrome.show_figure(T.network_figure(history, row=row, tol=tol, names=names, outputs=outputs),
                           key=_key("network"))
        else:
            plane = P.of_run(trainer, row=row)
            left, right = st.columns([3, 2])
            with left:
                if layer < len(trainer.config.model.hidden):
                    chrome.show_figure(T.activation_maps_figure(plane, history, row=row, layer=layer, tol=tol,
                                                            activation=trainer.activation, names=names),
                                   key=_key("activations"))
                else:
                    st.info("No hidden layer: the prediction on the right is all the network computes.")
            with right:
                chrome.show_figure(T.decision_figure(plane, trainer.dataset, history, row=row), key=_key("decision"))


@dataclass(frozen=True)
class View:
    """The headline numbers and the live and loss charts (figure JSON) at one row, while not playing."""

    summary: F.Summary
    live: str
    loss: str


def _view(trainer: Trainer, layer: int, row: int) -> View:
    return View(_summary(trainer, layer, row), _live_figure(trainer, layer, row), _loss_view(trainer, row))


def _on_drawn() -> None:
    playback().on_drawn(charts.drawn_batch(_key("live")))


def _live_area(version: int, playing: bool, busy: bool, layer: int, row: int, view: View | None) -> None:
    """Headline and live chart: a fragment of its own, the only part a Play frame or a slice of a long Step N
    reruns.

    While a long Step N trains (`busy`), batches work the same way with one
    frame each: the newest step after a slice of training, under a progress
    bar. The run that finishes it (or a click on Stop) reruns the whole page.

    While playing, a run trains and sends a batch of frames. The chart draws
    them in turn and, starting on the first, asks for the next batch (see
    `charts.show`). A rerun nobody asked for (the watchdog timer, a click)
    sends the last batch again, which the chart ignores, unless the loop looks
    stalled; so exactly one batch is ever being made.
    """
    slot, pb = session.RunSlot(SLOT), playback()
    if slot.version != version or (pb.mode is Mode.PLAYING) != playing or pb.busy != busy:
        st.rerun()  # the run, Play/Pause or a long Step N changed: the controls and the sidebar must follow
    trainer = slot.trainer
    if not (playing or busy):
        view = view or _view(trainer, layer, row)
        _headline(trainer, view.summary, layer)
        chrome.show_figure([view.live], key=_key("live"), min_width=LIVE_MIN_WIDTH, volume=_volume())
        chrome.show_figure([view.loss], key=_key("loss"), min_width=LOSS_MIN_WIDTH)
        return
    batch = _advance(trainer, layer)  # in flight, unless asked for, stalled or of another layer
    if batch is None:
        st.rerun()  # the Step N is done or the run diverged: the controls, the slider and the tabs follow
    if busy:
        _progress(pb)
    summary, loss = batch.end
    _headline(trainer, summary, layer)
    chrome.show_figure(batch.frames, key=_key("live"), batch=batch.number, on_drawn=_on_drawn,
                       min_width=LIVE_MIN_WIDTH, volume=_volume())
    chrome.show_figure([loss], key=_key("loss"), min_width=LOSS_MIN_WIDTH)
    classroom.publish(trainer)


def _live_still(version: int, playing: bool, busy: bool, layer: int, row: int, view: View | None) -> None:
    """The live area while nothing plays or steps: a fragment of another name than the moving one's.

    A watchdog tick or a chart report still on its way when Play or a Step N
    ends names the moving fragment; the run that ended it registered only
    this one, so Streamlit ignores the late rerun. Run, it could start a new
    script runner that drops the rest of the ending run's messages (the
    controls, enabled again, and its end), leaving Step disabled with no timer.
    """
    _live_area(version, playing, busy, layer, row, view)


def _main_area(version: int, playing: bool, present: bool) -> None:
    """Controls, headline, live chart and tabs: a fragment that reruns alone on clicks."""
    slot, pb = session.RunSlot(SLOT), playback()
    if classroom.paused() and (playing or pb.busy):
        pb.stop()
        pb.pause()
    if slot.version != version or (pb.mode is Mode.PLAYING) != playing:
        st.rerun()  # the run or Play/Pause changed: the sidebar must follow
    trainer = slot.trainer
    layer = 0 if present else _layer_shown(trainer)
    if pb.busy:
        _advance(trainer, layer)  # a slice of the Step N just asked for (the whole of a short one)
    busy = pb.busy
    row = _row_shown(trainer, present, playing)
    # Computed before anything is drawn, so the page's updates reach the browser together (one render, not three).
    view = None if playing or busy else _view(trainer, layer, row)
    links.show_errors(slot)  # here, so that the first Step, which reruns only this fragment, can take them away
    chrome.divergence_banner(trainer)
    _controls(trainer, present, playing, busy)
    if not present:
        _layer_choice(trainer)
    if playing or busy:
        st.fragment(_live_area, run_every=pb.watchdog_seconds)(version, playing, busy, layer, row, view)
    else:
        st.fragment(_live_still)(version, playing, busy, layer, row, view)
    if not present:
        _aids(trainer, layer, row, playing or busy)
    _secondary(trainer, layer, row, playing, busy)
    access.shortcuts(SHORTCUTS)
    classroom.publish(trainer)


def main() -> None:
    slot = session.RunSlot(SLOT, default=preset(DEFAULT_PRESET))
    present = chrome.present_mode()
    links.adopt_query(slot)
    slot.ensure()
    session.process_upload_request(slot)
    if present:
        chrome.hide_sidebar()
    else:
        sidebar.config_sidebar(slot)
        with st.sidebar.expander("Download", **sidebar.section_args(_key("x.download"))) as section:
            if section.open:
                chrome.download_buttons(slot.trainer)
    links.sync_query(slot)
    st.html(f"<style>{CSS}</style>")
    message = slot.pop_flash()
    if message:
        st.session_state[_key("new_run")] = message
    pb = playback()
    pb.follow(slot.version)
    st.fragment(_main_area)(slot.version, pb.mode is Mode.PLAYING, present)


main()
