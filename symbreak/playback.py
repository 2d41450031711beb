"""Play, a long Step N and their batches of frames as one small state machine, with an injected clock.

The Playground's main area forwards clicks to a `Playback` and draws what it
returns. The state is explicit: idle, stepping (n steps left) or playing; the
batch in flight, when it was sent, and when the watchdog should fire. While
stepping or playing there is always a watchdog time, so a lost report of a
drawn batch never leaves a Step N pending with nothing to finish it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

# A Step N that takes longer than this is trained in slices this long, each drawn as one frame.
STEP_SLICE_SECONDS = 0.4
# While playing, the chart asks for each next batch itself; the watchdog only restarts a loop whose request was lost.
WATCHDOG_SECONDS = 2.0
# Play frames made per batch: a rerun costs the browser about as much as drawing a frame, so it is shared.
FRAMES_PER_BATCH = 6


class Mode(Enum):
    """What the playback is doing."""

    IDLE = "idle"
    STEPPING = "stepping"
    PLAYING = "playing"


class Trainable(Protocol):
    """What a playback needs of a trainer: `Trainer.step`, its step count and whether every run diverged."""

    step_count: int
    all_diverged: bool

    def step(self, n: int = 1, seconds: float | None = None) -> int: ...


@dataclass(frozen=True)
class Batch:
    """Frames made in one run, numbered (the chart reports the number when it starts drawing), and when sent;
    `end` is what was made after the last frame (the page's headline and loss chart), `view` what they show."""

    number: int
    frames: list[Any]
    sent: float
    end: Any = None
    view: Hashable = None


@dataclass
class Playback:
    """Idle, stepping (`left` of `total` steps to go) or playing, for the run of one trainer version."""

    clock: Callable[[], float] = time.monotonic
    slice_seconds: float = STEP_SLICE_SECONDS
    watchdog_seconds: float = WATCHDOG_SECONDS
    frames_per_batch: int = FRAMES_PER_BATCH
    mode: Mode = Mode.IDLE
    version: int | None = None
    total: int = 0
    left: int = 0
    batch: Batch | None = None
    asked: int | None = field(default=None, repr=False)
    _numbers: int = field(default=0, repr=False)

    # ------------------------------------------------------------------ clicks
    def request(self, n: int, version: int) -> None:
        """Ask for n steps of the run with this version (a Step click); Play stops."""
        if n < 1:
            raise ValueError(f"Step N: N must be at least 1, not {n}")
        self._become(Mode.STEPPING, version)
        self.total = self.left = n

    def play(self, version: int) -> None:
        """Train continuously (a Play click); a Step N in progress ends, the steps made kept."""
        self._become(Mode.PLAYING, version)

    def pause(self) -> None:
        """Stop playing; idempotent, so a click delivered twice cannot undo itself."""
        if self.mode is Mode.PLAYING:
            self._become(Mode.IDLE, self.version)

    def stop(self) -> None:
        """End whatever runs (Stop, Reset): the steps made so far are kept."""
        self._become(Mode.IDLE, self.version)

    def on_drawn(self, number: int | None) -> None:
        """The chart started drawing batch `number`: the next batch may be made (a late report is ignored)."""
        self.asked = number

    def follow(self, version: int) -> None:
        """The run changed (a new trainer version, a config change): a Step N of the old run is dropped, and Play
        goes on with the new run."""
        if version != self.version:
            self._become(Mode.PLAYING if self.mode is Mode.PLAYING else Mode.IDLE, version)

    # ------------------------------------------------------------------ what the page asks
    @property
    def busy(self) -> bool:
        """A Step N is being trained: the step buttons wait for it."""
        return self.mode is Mode.STEPPING

    @property
    def done(self) -> int:
        """Steps of the Step N in progress made so far."""
        return self.total - self.left

    def watchdog_due(self) -> float | None:
        """When the watchdog should rerun the live area: never while idle, always while stepping or playing."""
        if self.mode is Mode.IDLE:
            return None
        return (self.batch.sent if self.batch else self.clock()) + self.watchdog_seconds

    def wants_batch(self, now: float | None = None, view: Hashable = None) -> bool:
        """A new batch is due: none yet, the chart asked for the one in flight, the watchdog fired, or the one in
        flight shows another view."""
        if self.mode is Mode.IDLE:
            return False
        due = self.watchdog_due()
        now = self.clock() if now is None else now
        return (self.batch is None or self.asked == self.batch.number or (due is not None and now >= due)
                or self.batch.view != view)

    def next_batch(self, trainer: Trainable, frame: Callable[[], Any], per_frame: int = 1,
                   now: float | None = None, end: Callable[[], Any] | None = None,
                   view: Hashable = None) -> Batch | None:
        """Train what is due and return the batch to draw; the batch in flight when nothing is due; None when
        idle, or when this training ended the playback (then there is nothing left to animate).

        Stepping trains one slice of at most `slice_seconds` and makes one
        frame; the last slice ends the Step N (idle, None). Playing trains
        `frames_per_batch` frames of `per_frame` steps. A run that diverges
        ends either. `end()`, if given, is made after the last frame, and
        `view` names what the frames show: a batch of another view is made again.
        """
        if self.mode is Mode.IDLE:
            return None
        now = self.clock() if now is None else now
        if not self.wants_batch(now, view):
            return self.batch
        frames = []
        if self.mode is Mode.STEPPING:
            self.left -= trainer.step(self.left, seconds=self.slice_seconds)
            if self.left <= 0 or trainer.all_diverged:
                self._become(Mode.IDLE, self.version)
                return None
            frames.append(frame())
        else:
            for _ in range(self.frames_per_batch):
                trainer.step(per_frame)
                if trainer.all_diverged:
                    self._become(Mode.IDLE, self.version)
                    return None
                frames.append(frame())
        self._numbers += 1
        # Sent once made: the watchdog counts from here.
        self.batch = Batch(self._numbers, frames, self.clock(), None if end is None else end(), view)
        return self.batch

    # ------------------------------------------------------------------ internals
    def _become(self, mode: Mode, version: int | None) -> None:
        self.mode, self.version = mode, version
        self.total = self.left = 0
        self.batch, self.asked = None, None
