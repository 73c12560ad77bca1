"""What the plots show, kept for the whole session in bounded memory.

Pure data, no Textual: the main screen feeds it snapshots and protocol events
as they arrive; the plot widgets read it on the screen's tick. Every series is
a `Series`: points in buckets of a width along x; when a series holds more
than `cap` buckets the width doubles and neighbours merge, so a run of a day
keeps as many points as a run of a minute (and costs as little to draw).
Points of different attempts never merge, so each attempt keeps its segment.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from trainer.protocol import Epoch, Event, Step
from tui.telemetry.snapshot import Snapshot
from tui.ui.widgets.words import tf_memory

CAP = 512  # buckets per series: the widest plot has ~400 braille dot columns
MEMORY_SECONDS = 1.0  # the memory plot's finest step along time
MARKS = 64  # relaunch and out-of-memory marks kept (the newest)


@dataclass
class Series:
    """(x, y) points in buckets of `width` along x; y merges by max or mean."""

    width: float = 1.0
    mean: bool = False  # merge y by its mean (loss), else by its max (memory)
    cap: int = CAP
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    ns: list[int] = field(default_factory=list)
    tags: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.xs)

    def add(self, x: float, y: float, tag: int = 0) -> None:
        xs = self.xs
        if xs and x < xs[-1]:
            # Older than what is drawn (a reading that came late): a line cannot go back
            # in time, so it joins the newest bucket rather than zigzag across the plot;
            # one of an attempt already over is dropped (it would spike the new one's start).
            if self.tags[-1] == tag:
                self._merge_last(y, 1)
            return
        if xs and self.tags[-1] == tag and xs[-1] <= x < xs[-1] + self.width:
            self._merge_last(y, 1)
            return
        xs.append(x)
        self.ys.append(y)
        self.ns.append(1)
        self.tags.append(tag)
        if len(xs) > self.cap:
            self._coarsen()

    def _merge_last(self, y: float, n: int) -> None:
        if self.mean:
            total = self.ns[-1] + n
            self.ys[-1] = (self.ys[-1] * self.ns[-1] + y * n) / total
            self.ns[-1] = total
        else:
            self.ys[-1] = max(self.ys[-1], y)
            self.ns[-1] += n

    def _coarsen(self) -> None:
        """Double the bucket width and merge what now shares a bucket."""
        self.width *= 2
        old = list(zip(self.xs, self.ys, self.ns, self.tags, strict=True))
        self.xs, self.ys, self.ns, self.tags = [], [], [], []
        for x, y, n, tag in old:
            if self.xs and self.tags[-1] == tag and x < self.xs[-1] + self.width:
                self._merge_last(y, n)
            else:
                self.xs.append(x)
                self.ys.append(y)
                self.ns.append(n)
                self.tags.append(tag)

    def points(self) -> Iterator[tuple[float, float, int]]:
        return zip(self.xs, self.ys, self.tags, strict=True)

    def last(self) -> float | None:
        return self.ys[-1] if self.ys else None


@dataclass(frozen=True)
class Mark:
    x: float
    attempt: int
    kind: str  # "relaunch" | "oom"


class SessionPlots:
    """Memory over time and learning over steps, every attempt of the session.

    Memory (x: unix time): `run` is this run's own memory (GPU used by its
    processes, or the trainer's RSS on a CPU-only host; the trainer's own
    reading at each step fills it too, so an attach replay draws it), `tf` and
    `peak` TensorFlow's current and peak at each step (GPU only), `others` the
    other processes on the GPUs or, on a CPU-only host, the host's used memory.
    Learning (x: the session's step count, all attempts end to end): loss and
    accuracy per step, the validation figures at epoch ends.
    """

    def __init__(self) -> None:
        self.run = Series()
        self.tf = Series()
        self.peak = Series()
        self.others = Series()
        self.total: int | None = None  # the devices' total (or the host's)
        self.limit: tuple[int, str] | None = None  # a cap set on the run, with its words
        self.gpu: bool | None = None  # None until the first snapshot or step says
        self.time_marks: deque[Mark] = deque(maxlen=MARKS)
        self.step_marks: deque[Mark] = deque(maxlen=MARKS)
        self.loss = Series(mean=True)
        self.accuracy = Series(mean=True)
        self.val_loss = Series(mean=True)
        self.val_accuracy = Series(mean=True)
        self.steps = 0  # steps of the whole session so far: the learning plots' x
        self.attempt = 0
        self._next_memory = 0.0
        # Bumped on every change, one for each plot: a chart redraws when its own moved.
        self.memory_version = 0
        self.learning_version = 0
        self._sampled_rss = False  # the sampler reads the trainer's RSS (a CPU-only host, live)

    # --- fed by the screen ----------------------------------------------------

    def snapshot(self, snap: Snapshot) -> None:
        live = [g for g in snap.gpus if not g.lost]
        if live:
            self.gpu = True
            self.total = sum(g.total_bytes for g in live)
            run = [g.run_bytes for g in live if g.run_bytes is not None]
            if run:
                self.run.add(snap.t, sum(run), self.attempt)
            other = [g.other_bytes for g in live if g.other_bytes is not None]
            if other:
                self.others.add(snap.t, sum(other), self.attempt)
        else:
            self.gpu = False
            self.total = snap.host.total_bytes
            if snap.trainer is not None:
                self._sampled_rss = True
                self.run.add(snap.t, snap.trainer.rss_bytes, self.attempt)
            self.others.add(snap.t, snap.host.used_bytes, self.attempt)
        self.memory_version += 1

    def attempt_started(self, number: int, started: float | None, limit: tuple[int, str] | None) -> None:
        relaunch = self.attempt != 0  # an attempt of this session came before (not a first launch or attach)
        self.attempt = number
        self.limit = limit
        self._next_memory = 0.0
        if started is not None and relaunch:
            self.time_marks.append(Mark(started, number, "relaunch"))
        if self.steps and relaunch:
            self.step_marks.append(Mark(self.steps + 0.5, number, "relaunch"))
        self.touch()

    def attempt_ended(self, state: str, ended: float | None) -> None:
        if state != "oom":
            return
        if ended is not None:
            self.time_marks.append(Mark(ended, self.attempt, "oom"))
        self.step_marks.append(Mark(self.steps, self.attempt, "oom"))
        self.touch()

    def event(self, event: Event) -> None:
        """One protocol event (steps come up to a thousand a second: this stays small)."""
        if isinstance(event, Step):
            self.steps += 1
            tag = self.attempt
            if event.loss is not None:
                self.loss.add(self.steps, event.loss, tag)
            if event.accuracy is not None:
                self.accuracy.add(self.steps, event.accuracy, tag)
            if event.t >= self._next_memory:
                # A step's own memory reading, once a second: the memory plot's resolution.
                self._next_memory = event.t + MEMORY_SECONDS
                current, peak, label = tf_memory(event.memory)
                if label == "RSS":  # a CPU-only trainer reports its RSS: the run's own memory
                    # Only where no sampler reads it (a replayed run): the two readings of one
                    # process, taken at different moments, would make the line jitter.
                    if current is not None and not self._sampled_rss:
                        self.run.add(event.t, current, tag)
                else:
                    if current is not None:
                        self.tf.add(event.t, current, tag)
                    if peak is not None:
                        self.peak.add(event.t, peak, tag)
                self.memory_version += 1
            self.learning_version += 1
        elif isinstance(event, Epoch):
            metrics = event.metrics
            for key, series in (("val_loss", self.val_loss), ("val_accuracy", self.val_accuracy)):
                value = metrics.get(key)
                if isinstance(value, (int, float)):
                    series.add(self.steps, float(value), self.attempt)
            self.learning_version += 1

    def touch(self) -> None:
        """Both plots have something new to draw."""
        self.memory_version += 1
        self.learning_version += 1
