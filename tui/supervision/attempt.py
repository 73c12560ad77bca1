"""What the supervisor tells its listener: attempt snapshots and notices.

Notices are frozen and carry frozen snapshots, so the screen can keep them and
read them on its own thread while the supervisor goes on.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trainer.config import RunConfig
from trainer.protocol import Event, RunEnd, RunStart, Step
from tui.common.states import LIVE_STATES, STATE_WORDS
from tui.common.verdict import Verdict
from tui.runs.facts import peak_of


@dataclass(frozen=True)
class AttemptInfo:
    """One attempt as it stands now; a new snapshot replaces it on every change."""

    number: int
    run_id: str
    run_dir: Path
    config: RunConfig | None
    reason: str  # "launch", "relaunch", "halve-batch", "attach", ...
    state: str  # starting, training, stopping, finished, stopped, oom, crashed, killed, unknown
    started: float
    ended: float | None = None
    exit_code: int | None = None  # Popen-style: negative = killed by that signal
    steps: int = 0
    epoch: int | None = None
    peak_memory: int | None = None
    steps_per_second: float | None = None
    verdict: Verdict | None = None
    read_only: bool = False
    spare: bool = False  # handed to the warm spare (TensorFlow already imported) instead of a cold start
    cold_reason: str | None = None  # why a relaunch started cold, in words

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def state_words(self) -> str:
        return STATE_WORDS.get(self.state, self.state)


@dataclass(frozen=True)
class AttemptStarted:
    attempt: AttemptInfo


@dataclass(frozen=True)
class EventBatch:
    """Events in the order the trainer wrote them; `garbage` lines were skipped."""

    attempt: AttemptInfo
    events: tuple[Event, ...]
    garbage: int


@dataclass(frozen=True)
class AttemptEnded:
    attempt: AttemptInfo
    verdict: Verdict


@dataclass(frozen=True)
class AttemptNote:
    """Something worth saying once about an attempt, in words, that is not a problem
    of memtui's (no Keras fit() was seen; a relaunch continues from a backup)."""

    attempt: AttemptInfo
    message: str


@dataclass(frozen=True)
class SupervisorProblem:
    """Something the person should read: one line with what happened and what to do."""

    message: str


Notice = AttemptStarted | EventBatch | AttemptEnded | AttemptNote | SupervisorProblem


class Progress:
    """Folds events into the numbers an AttemptInfo shows."""

    def __init__(self) -> None:
        self.steps = 0
        self.epoch: int | None = None
        self.peak: int | None = None
        self.started_training = False
        self.run_end: RunEnd | None = None
        self._times: deque[tuple[float, int]] = deque(maxlen=64)

    def apply(self, events: Sequence[Event]) -> None:
        for event in events:
            if isinstance(event, Step):
                self.started_training = True
                # Step events may be coalesced by the trainer; a global count
                # in the raw event beats counting lines.
                counted = event.raw.get("global_step")
                self.steps = counted if isinstance(counted, int) else self.steps + 1
                self.epoch = event.epoch
                peak = peak_of(event.memory)
                if peak is not None and (self.peak is None or peak > self.peak):
                    self.peak = peak
                self._times.append((event.t, self.steps))
            elif isinstance(event, RunStart):
                self.started_training = True
            elif isinstance(event, RunEnd):
                self.run_end = event
                self.steps = max(self.steps, event.steps)
                if event.peak_memory and (self.peak is None or event.peak_memory > self.peak):
                    self.peak = event.peak_memory

    @property
    def steps_per_second(self) -> float | None:
        if len(self._times) < 2:
            return None
        (t0, s0), (t1, s1) = self._times[0], self._times[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else None

    def into(self, info: AttemptInfo) -> AttemptInfo:
        state = info.state
        if state == "starting" and self.started_training:
            state = "training"
        return dataclasses.replace(info, state=state, steps=self.steps, epoch=self.epoch,
                                   peak_memory=self.peak, steps_per_second=self.steps_per_second)


def now() -> float:
    return round(time.time(), 6)
