"""The Playback state machine without Streamlit: Step N in slices, Stop, Play's batches, the watchdog."""

from __future__ import annotations

import pytest

from symbreak import Config, preset
from symbreak.engine.trainer import Trainer
from symbreak.playback import Mode, Playback


class Clock:
    """A fake clock the tests move by hand; each training step also moves it (see `SlowTrainer`)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class SlowTrainer:
    """A real trainer whose every step takes `step_seconds` on the fake clock, so slices are deterministic."""

    def __init__(self, clock: Clock, step_seconds: float = 0.125, config: Config | None = None) -> None:
        self.trainer = Trainer(config or preset("constant"))
        self.clock, self.step_seconds = clock, step_seconds

    @property
    def step_count(self) -> int:
        return self.trainer.step_count

    @property
    def all_diverged(self) -> bool:
        return self.trainer.all_diverged

    def step(self, n: int = 1, seconds: float | None = None) -> int:
        """Steps one at a time until n are made or the slice's seconds (on the fake clock) are spent."""
        start, made = self.clock.now, 0
        while made < n and (seconds is None or made == 0 or self.clock.now - start < seconds):
            self.trainer.step(1)
            self.clock.now += self.step_seconds
            made += 1
        return made


def setup(slice_seconds: float = 0.5) -> tuple[Clock, SlowTrainer, Playback]:
    clock = Clock()
    return clock, SlowTrainer(clock), Playback(clock=clock, slice_seconds=slice_seconds)


def frame_of(trainer: SlowTrainer):
    return lambda: trainer.step_count


def test_a_request_of_n_steps_finishes_exactly_n_steps_in_slices():
    clock, trainer, playback = setup()
    playback.request(10, version=1)
    slices = []
    while (batch := playback.next_batch(trainer, frame_of(trainer))) is not None:
        slices.append(batch.frames)
        playback.on_drawn(batch.number)
    assert trainer.step_count == 10 and playback.mode is Mode.IDLE
    assert slices == [[4], [8]], "0.5 s slices of 0.125 s steps: 4, 4 and the 2 left, which end it (no frame)"
    assert playback.watchdog_due() is None and not playback.busy


def test_stop_keeps_the_steps_made():
    clock, trainer, playback = setup()
    playback.request(100, version=1)
    playback.next_batch(trainer, frame_of(trainer))
    assert playback.busy and playback.done == 4
    playback.stop()
    assert not playback.busy and playback.next_batch(trainer, frame_of(trainer)) is None
    assert trainer.step_count == 4


def test_play_sends_a_batch_and_waits_for_its_drawn_report():
    clock, trainer, playback = setup()
    playback.play(version=1)
    first = playback.next_batch(trainer, frame_of(trainer), per_frame=5)
    assert first.number == 1 and first.frames == [5, 10, 15, 20, 25, 30]
    clock.now += 0.5
    assert playback.next_batch(trainer, frame_of(trainer), per_frame=5) is first, "a rerun nobody asked for"
    assert trainer.step_count == 30
    playback.on_drawn(1)
    second = playback.next_batch(trainer, frame_of(trainer), per_frame=5)
    assert second.number == 2 and trainer.step_count == 60
    playback.on_drawn(1)  # a late report of the batch before
    assert playback.next_batch(trainer, frame_of(trainer), per_frame=5) is second


def test_the_watchdog_resends_when_a_report_never_comes():
    clock, trainer, playback = setup()
    playback.play(version=1)
    first = playback.next_batch(trainer, frame_of(trainer), per_frame=1)
    assert playback.watchdog_due() == first.sent + playback.watchdog_seconds
    clock.now = first.sent + playback.watchdog_seconds - 0.01
    assert playback.next_batch(trainer, frame_of(trainer), per_frame=1) is first
    clock.now = first.sent + playback.watchdog_seconds
    assert playback.next_batch(trainer, frame_of(trainer), per_frame=1).number == 2


def test_a_pause_mid_batch_ignores_its_late_report():
    clock, trainer, playback = setup()
    playback.play(version=1)
    batch = playback.next_batch(trainer, frame_of(trainer), per_frame=5)
    playback.pause()
    playback.pause()  # delivered twice: still paused
    playback.on_drawn(batch.number)
    assert playback.mode is Mode.IDLE and playback.next_batch(trainer, frame_of(trainer)) is None
    assert trainer.step_count == 30 and playback.watchdog_due() is None


def test_a_config_change_drops_a_step_n():
    clock, trainer, playback = setup()
    playback.request(100, version=1)
    playback.next_batch(trainer, frame_of(trainer))
    playback.follow(1)
    assert playback.busy, "the same run: the Step N goes on"
    playback.follow(2)
    assert playback.mode is Mode.IDLE and playback.left == 0 and playback.batch is None


def test_play_goes_on_with_the_new_run_after_a_config_change():
    clock, trainer, playback = setup()
    playback.play(version=1)
    playback.next_batch(trainer, frame_of(trainer))
    playback.follow(2)
    assert playback.mode is Mode.PLAYING and playback.version == 2 and playback.batch is None
    fresh = SlowTrainer(clock)
    assert playback.next_batch(fresh, frame_of(fresh)).frames == [1, 2, 3, 4, 5, 6]


def test_a_batch_carries_what_was_made_after_its_last_frame_and_its_view():
    clock, trainer, playback = setup()
    playback.play(version=1)
    ends = []
    end = lambda: ends.append(trainer.step_count) or f"after {trainer.step_count}"  # noqa: E731
    first = playback.next_batch(trainer, frame_of(trainer), per_frame=2, end=end, view=0)
    assert first.end == "after 12" and first.view == 0 and ends == [12], "made once, after the last frame"
    assert playback.next_batch(trainer, frame_of(trainer), per_frame=2, end=end, view=0) is first
    assert ends == [12], "a batch sent again is not made again"
    second = playback.next_batch(trainer, frame_of(trainer), per_frame=2, end=end, view=1)
    assert second.number == 2 and second.view == 1 and second.frames[0] == 14, "another view: a new batch"


class Diverging:
    """A trainer whose runs all diverge at step `at`."""

    def __init__(self, at: int) -> None:
        self.at, self.step_count = at, 0

    @property
    def all_diverged(self) -> bool:
        return self.step_count >= self.at

    def step(self, n: int = 1, seconds: float | None = None) -> int:
        made = min(n, max(self.at - self.step_count, 0))
        self.step_count += made
        return made


@pytest.mark.parametrize("start", ["play", "step"])
def test_divergence_ends_play_and_step_n_with_nothing_to_draw(start):
    trainer, playback = Diverging(at=42), Playback(slice_seconds=10.0)
    playback.play(version=1) if start == "play" else playback.request(1000, version=1)
    made = []
    while (batch := playback.next_batch(trainer, lambda: trainer.step_count, per_frame=5)) is not None:
        made.append(batch.frames)
        playback.on_drawn(batch.number)
    assert playback.mode is Mode.IDLE and playback.watchdog_due() is None and trainer.step_count == 42
    drawn = [[5, 10, 15, 20, 25, 30]] if start == "play" else []
    assert made == drawn, "the batch that diverges is not drawn: the page redraws whole"


def test_a_full_rerun_while_slices_are_pending_always_ends_idle_with_the_controls_enabled():
    """The page's timers are dropped by a full rerun and its drawn reports can be lost; each run re-arms the
    watchdog from `watchdog_due`, which is set whenever a Step N is pending, so the watchdog alone finishes it."""
    for reports_lost_after in range(6):
        clock, trainer, playback = setup(slice_seconds=0.0)
        playback.request(5, version=1)
        runs = 0
        while playback.busy:
            due = playback.watchdog_due()
            assert due is not None, "a pending Step N always has a watchdog time"
            batch = playback.next_batch(trainer, frame_of(trainer))
            if batch is None:
                break
            if runs < reports_lost_after:
                playback.on_drawn(batch.number)
            else:  # a full rerun: the reports of this page are lost, only the re-armed watchdog reruns it
                clock.now = max(clock.now, playback.watchdog_due() or clock.now)
            runs += 1
            assert runs < 50
        assert trainer.step_count == 5 and not playback.busy and playback.watchdog_due() is None


def test_a_step_request_of_nothing_is_refused_with_the_field():
    with pytest.raises(ValueError, match="N must be at least 1"):
        Playback().request(0, version=1)
