"""Server time of one Playground press, in-process: "Step 100" and a Play frame on the default configuration.

A session of the app runs under Streamlit's AppTest. A press reruns only the
fragment its button sits in, as the browser's click does (the main area for
Step 100; the live area for a Play batch, which the chart asks for when it
starts drawing the last one). A press's server time is the CPU time of the
script run's thread plus that of the serialisation of every message it sends
(CPU time, not the clock: on a shared machine the clock counts the other
jobs' turns too); its bytes are those messages' sizes. Each press is
measured at a steady state: the history is past `WARM_STEPS` steps, so every
curve has its full 1,000 points.

Printed, as ratios measured side by side in one run:

1. the figure JSON of the live and the loss chart through graph objects
   (`go.Figure(...).to_json()`) over the dict path (`live_json`, `loss_json`),
   on the same history;
2. the symmetry meter's series recomputed over every shown row over the
   history's kept series after 100 more steps;
3. the bytes of the live and loss charts' data as Streamlit sends it, with
   the figures' JSON from graph objects and every array in each trace, over
   the dict path's JSON with each array once per chart (`charts.share_arrays`);

and the medians of a Step 100 press and of a Play frame (a batch's time over
its frames), with the bytes a press sends, for the README.

    python bench/bench_press.py
    python bench/bench_press.py --against REV   # also this tree and commit REV taking turns: ratios of medians

With --against, a checkout of REV (`git archive`, in a temporary folder) and
this tree each run in a process of their own and press in turns, a few presses
at a time, ROUNDS × PRESSES presses and ROUNDS × PLAY_BATCHES batches each,
so a machine whose speed drifts is fair to both.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
PRESSES = 15
PLAY_BATCHES = 12
ROUNDS = 4
# Taking turns, each tree makes this many presses (Play batches) before the other's turn.
TURN_PRESSES = 3
TURN_BATCHES = 3
WARM_STEPS = 1_000
REPEATS = 30
STEP_BUTTON = "playground.stepn"
PLAY_BUTTON = "playground.play"
LIVE_CHART = "playground.live"
PLAYBACK = "playground.playback"  # the page's Playback (pages/playground.py: `playback()`)
TIMEOUT = 120


# ------------------------------------------------------------------ one session of the app, in this process
class Session:
    """An AppTest session on the app at `root` whose presses rerun the fragment of their button, timed."""

    def __init__(self, root: Path) -> None:
        from streamlit.runtime.scriptrunner import RerunData, script_runner
        from streamlit.testing.v1 import AppTest
        from streamlit.testing.v1 import local_script_runner as local

        self.fragment: str | None = None
        self.messages: list = []
        self.script_seconds = 0.0
        session = self

        def run(runner, widget_state=None, query_params=None, timeout=3, page_hash="", context_info=None):
            """LocalScriptRunner.run, with the fragment a browser names in its rerun request."""
            data = RerunData(widget_states=widget_state, query_string=urlencode(query_params or {}, doseq=True),
                             page_script_hash=page_hash, context_info=context_info,
                             fragment_id_queue=[session.fragment] if session.fragment else [])
            runner.request_rerun(data)
            runner._requests._rerun_data = data  # not folded into the runner's initial full-app request
            try:
                runner.start()
                local.require_widgets_deltas(runner, timeout)
            finally:
                runner.join()
            session.messages = list(runner.forward_msgs())
            return local.parse_tree_from_messages(session.messages)

        run_script = script_runner.ScriptRunner._run_script

        def timed(runner, rerun_data) -> None:
            start = time.thread_time()
            try:
                run_script(runner, rerun_data)
            finally:
                session.script_seconds = time.thread_time() - start

        local.LocalScriptRunner.run = run
        script_runner.ScriptRunner._run_script = timed
        sys.path.insert(0, str(root))
        self.app = AppTest.from_file(str(root / "app.py"), default_timeout=TIMEOUT)
        self.app.run()
        self._check()

    def _check(self) -> None:
        if self.app.exception:
            raise RuntimeError("the app failed: " + "; ".join(e.message for e in self.app.exception))

    def fragment_of(self, key: str) -> str:
        """The id of the fragment that drew the element with this key in the last run."""
        for message in self.messages:
            delta = message.delta if message.HasField("delta") else None
            if delta is None or not delta.HasField("new_element"):
                continue
            element = getattr(delta.new_element, delta.new_element.WhichOneof("type"))
            if key in getattr(element, "id", ""):
                return delta.fragment_id
        raise RuntimeError(f"no element {key!r} in the last run")

    def _timed_run(self, act: Callable[[], None]) -> tuple[float, int]:
        """(server CPU seconds, bytes) of the run `act` starts: the script run and its messages' serialisation."""
        act()
        self._check()
        start = time.thread_time()
        size = sum(len(message.SerializeToString()) for message in self.messages)
        return self.script_seconds + time.thread_time() - start, size

    def step(self, presses: int) -> list[tuple[float, int]]:
        """Press Step 100 `presses` times (the main area's fragment reruns)."""
        self.fragment = None
        if not any(b.key == STEP_BUTTON for b in self.app.button):
            self.app.run()
        self.fragment = self.fragment_of(STEP_BUTTON)
        return [self._timed_run(lambda: self.app.button(key=STEP_BUTTON).click().run()) for _ in range(presses)]

    def play(self, batches: int) -> list[tuple[float, float]]:
        """Press Play, then make `batches` batches of frames as the chart asks for them, each measured over its
        frames; Pause at the end."""
        self.fragment = None
        self.app.run()
        self.app.button(key=PLAY_BUTTON).click().run()
        self._check()
        self.fragment = self.fragment_of(LIVE_CHART)

        def next_batch() -> None:
            self._report_drawn()
            self.app.run()

        measured = []
        for _ in range(batches):
            seconds, size = self._timed_run(next_batch)
            frames = self._frames_in_flight()
            measured.append((seconds / frames, size / frames))
        self.fragment = None
        self.app.run()
        self.app.button(key=PLAY_BUTTON).click().run()
        return measured

    def _report_drawn(self) -> None:
        """What the live chart's report that it started drawing the batch in flight does."""
        state = self.app.session_state
        if PLAYBACK in state:
            state[PLAYBACK].on_drawn(state[PLAYBACK].batch.number)
        else:  # a tree from before the page's Playback (for --against)
            state["playground.asked"] = state["playground.batch"].number

    def _frames_in_flight(self) -> int:
        state = self.app.session_state
        return len(state[PLAYBACK].batch.frames if PLAYBACK in state else state["playground.batch"].figures)

    def steps_trained(self) -> int:
        return self.app.session_state["playground.trainer"].step_count


def warm(session: Session) -> None:
    while session.steps_trained() < WARM_STEPS:
        session.step(1)


def serve(root: Path) -> None:
    """Answer 'step N' and 'play N' lines on stdin with one JSON line of [seconds, bytes] per press (per frame
    for Play)."""
    os.chdir(root)
    session = Session(root)
    warm(session)
    for line in sys.stdin:
        what, count = line.split()
        result = session.step(int(count)) if what == "step" else session.play(int(count))
        print(json.dumps(result), flush=True)


# ------------------------------------------------------------------ side by side in this process
def median_seconds(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_ratio(old: Callable[[], object], new: Callable[[], object], repeats: int = REPEATS) -> float:
    """Median over repeats of old's time over new's, each pair measured back to back."""
    ratios = []
    for _ in range(repeats):
        ratios.append(median_seconds(old, 1) / median_seconds(new, 1))
    return statistics.median(ratios)


def side_by_side() -> list[str]:
    import torch
    from streamlit.util import calc_hash

    from pages import charts
    from symbreak.engine.metrics import symmetry_series
    from symbreak.engine.trainer import Trainer
    from symbreak.figures import live as F
    from symbreak.figures.style import MAX_POINTS, thin_rows
    from symbreak.settings.presets import DEFAULT_PRESET, preset

    torch.set_num_threads(1)
    config = preset(DEFAULT_PRESET)
    trainer = Trainer(config)
    trainer.step(WARM_STEPS)
    history, tol, names = trainer.history, config.tol, list(trainer.dataset.feature_names)
    lines = []

    def live_old() -> str:
        return F.live_figure(history, 0, tol=tol, names=names).to_json()

    def live_new() -> str:
        return F.live_json(history, 0, tol=tol, names=names)

    def loss_old() -> str:
        return F.loss_figure(history, task=trainer.task).to_json()

    def loss_new() -> str:
        return F.loss_json(history, task=trainer.task)

    assert json.loads(live_old()) == json.loads(live_new()) and json.loads(loss_old()) == json.loads(loss_new())
    lines.append(f"live chart, go.Figure path / dict path: {paired_ratio(live_old, live_new):.2f}x")
    lines.append(f"loss chart, go.Figure path / dict path: {paired_ratio(loss_old, loss_new):.2f}x")

    rows = thin_rows(history.count, MAX_POINTS)
    sym_ratios = []
    for _ in range(REPEATS):
        trainer.step(100)
        rows = thin_rows(history.count, MAX_POINTS)
        new = median_seconds(lambda: history.symmetry(0, 0, tol), 1)
        old = median_seconds(lambda: symmetry_series(history.neuron_vectors(0)[rows], tol), 1)
        sym_ratios.append(old / new)
    lines.append(f"symmetry meter's series after 100 more steps, recomputed / kept: "
                 f"{statistics.median(sym_ratios):.1f}x")

    def sent(texts: list[str], share: bool) -> str:
        """The chart data Streamlit writes for these figures (it also encodes it once more for its identity)."""
        figures, shared = charts.share_arrays(texts) if share else (texts, [])
        data = {"figures": figures, "shared": shared, "config": {}, "src": charts.plotly_src(), "batch": None,
                "min_width": 0}
        calc_hash(json.dumps(data, sort_keys=True))
        return json.dumps(data)

    old_size = sum(len(sent([text], False)) for text in (live_old(), loss_old()))
    new_size = sum(len(sent([text], True)) for text in (live_new(), loss_new()))
    lines.append(f"live and loss charts' data as sent, before / now: {old_size / new_size:.2f}x the bytes "
                 f"({old_size:,} / {new_size:,}: each array once per chart, no HTML escapes in the JSON)")
    return lines


# ------------------------------------------------------------------ presses: this tree, or two trees in turns
class Worker:
    """A `serve` process on the tree at root."""

    def __init__(self, root: Path) -> None:
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--serve", str(root)],
                                        cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, what: str, count: int) -> tuple[list[float], list[float]]:
        """Seconds and bytes of each of `count` presses ('step') or Play frames ('play')."""
        self.process.stdin.write(f"{what} {count}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the bench process stopped (exit {self.process.wait()})")
        answer = json.loads(line)
        return [s for s, _ in answer], [b for _, b in answer]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def measure(workers: dict[str, Worker], rounds: int) -> dict[str, dict[str, float]]:
    """Medians per worker: Step 100 ms, its bytes, Play frame ms and Play bytes per frame, taking turns a few
    presses at a time (TURN_PRESSES, TURN_BATCHES)."""
    seen = {name: {"step": [], "step_bytes": [], "frame": [], "frame_bytes": []} for name in workers}
    for what, count, times, sizes, turn in (("step", PRESSES, "step", "step_bytes", TURN_PRESSES),
                                            ("play", PLAY_BATCHES, "frame", "frame_bytes", TURN_BATCHES)):
        for _ in range(rounds * count // turn):
            for name, worker in workers.items():
                seconds, size = worker.ask(what, turn)
                seen[name][times] += seconds
                seen[name][sizes] += size
    return {name: {k: statistics.median(v) for k, v in found.items()} for name, found in seen.items()}


def checkout(rev: str, folder: Path) -> Path:
    """The files of commit REV in folder (no git worktree: the checkout's .git is left alone)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="also press on commit REV, in turns with this tree")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--serve", metavar="ROOT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # AppTest's session state read from this thread warns of a "missing ScriptRunContext" each time.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").disabled = True
    if args.serve:
        serve(Path(args.serve))
        return
    sys.path.insert(0, str(ROOT))
    for line in side_by_side():
        print(line)
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this tree": ROOT}
        if args.against:
            trees[args.against] = checkout(args.against, Path(tmp))
        workers = {name: Worker(root) for name, root in trees.items()}
        try:
            found = measure(workers, args.rounds)
        finally:
            for worker in workers.values():
                worker.close()
    for name, m in found.items():
        print(f"{name}: Step 100 press {m['step'] * 1e3:.1f} ms server time, {m['step_bytes'] / 1e3:.0f} kB sent; "
              f"Play frame {m['frame'] * 1e3:.1f} ms, {m['frame_bytes'] / 1e3:.0f} kB (medians, default "
              f"configuration past {WARM_STEPS:,} steps, one student)")
    if args.against:
        here, there = found["this tree"], found[args.against]
        print(f"this tree / {args.against}, taking turns ({args.rounds} rounds): Step 100 press "
              f"{here['step'] / there['step']:.2f}x the time and {here['step_bytes'] / there['step_bytes']:.2f}x "
              f"the bytes; Play frame {here['frame'] / there['frame']:.2f}x the time and "
              f"{here['frame_bytes'] / there['frame_bytes']:.2f}x the bytes (lower is better)")


if __name__ == "__main__":
    main()
