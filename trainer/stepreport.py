"""Step events for the built-in trainer and the script hook: one reporter for both.

Steps are coalesced to at most one event per `min_interval` (20 a second by
default) so a fast model does not spend its time writing; the newest step is
always written before an epoch or the training ends (`flush`). Turning a
step's logs into numbers waits for the step's results (a device sync), so it
happens only when an event goes out. Keras may end two steps out of order in
its async workers: an older step arriving late is dropped, the newer one
already counted. Thread-safe: Keras may call `step_end` from a worker thread.

Stdlib only, relative imports: the script hook loads it by path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from .memreading import MemoryReader

Emit = Callable[..., None]  # emit(type_, **fields), an EventLog's


def number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def numbers(logs: Mapping[str, Any] | None) -> dict[str, float]:
    """The logs' values that are numbers (converting waits for the step's results)."""
    return {k: v for k, v in ((k, number(v)) for k, v in (logs or {}).items()) if v is not None}


def accuracy_of(metrics: Mapping[str, float]) -> float | None:
    """`accuracy`, else the first training metric named like one (`sparse_categorical_accuracy`)."""
    if "accuracy" in metrics:
        return metrics["accuracy"]
    for name, value in metrics.items():
        if name.endswith("accuracy") and not name.startswith("val_"):
            return value
    return None


class StepReporter:
    def __init__(self, emit: Emit, memory: MemoryReader | None, batch_size: int | None,
                 steps_in_epoch: Callable[[], int | None], min_interval: float = 0.05,
                 fields: Mapping[str, Any] | None = None) -> None:
        self.emit = emit
        self.memory = memory
        self.batch_size = batch_size or 0
        self.steps_in_epoch = steps_in_epoch
        self.min_interval = min_interval
        self.fields = dict(fields or {})  # added to every step event (the hook's `phase`)
        self.peak_memory: int | None = None
        self.epoch = 0  # counted from 0, as Keras does; events say epoch + 1
        self.epoch_base = 0  # steps finished before this epoch
        self.newest = 0  # the newest step of this epoch seen ending
        self._lock = threading.Lock()
        self._last_end: float | None = None
        self._last_emit = 0.0
        self._pending: tuple[int, dict[str, Any]] | None = None
        self._seconds = 0.0
        self._count = 0

    def begin(self) -> None:
        """Training (or an epoch's steps, after validation) starts now: a step's time starts here."""
        self._last_end = time.perf_counter()

    def begin_epoch(self, epoch: int, steps_before: int) -> None:
        with self._lock:
            self.epoch = epoch
            self.epoch_base = steps_before
            self.newest = 0
        self.begin()

    def step_end(self, step: int, logs: Mapping[str, Any] | None, force: bool = False) -> bool:
        """Step `step` (from 1, in this epoch) ended; False if it came after a newer one."""
        now = time.perf_counter()
        with self._lock:
            if step <= self.newest:
                return False
            self.newest = step
            self._seconds += now - (self._last_end or now)
            self._count += 1
            self._last_end = now
            self._pending = (step, dict(logs or {}))
            if force or now - self._last_emit >= self.min_interval:
                self._flush_locked()
        return True

    def waiting(self) -> bool:
        """Whether a step is waiting to be written."""
        return self._pending is not None

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._pending is None:
            return
        step, logs = self._pending
        seconds = self._seconds / max(1, self._count)
        metrics = numbers(logs)  # may raise the step's own error (JAX's OOM): the pending step stays
        memory = self.memory.read() if self.memory is not None else {}
        peak = MemoryReader.peak_of(memory)
        if peak is not None:
            self.peak_memory = max(self.peak_memory or 0, peak)
        batch = self.batch_size
        self.emit(
            "step", **self.fields, epoch=self.epoch + 1, step=step, global_step=self.epoch_base + step,
            steps_in_epoch=self.steps_in_epoch(), loss=metrics.get("loss"), accuracy=accuracy_of(metrics),
            metrics=metrics, batch_size=batch, step_seconds=round(seconds, 6),
            examples_per_second=round(batch / seconds, 3) if seconds > 0 and batch else 0.0, memory=memory,
        )
        self._pending = None
        self._seconds = 0.0
        self._count = 0
        self._last_emit = time.perf_counter()

    def read_peak(self) -> int | None:
        """The highest memory seen, including right now."""
        if self.memory is not None:
            peak = MemoryReader.peak_of(self.memory.read())
            if peak is not None:
                self.peak_memory = max(self.peak_memory or 0, peak)
        return self.peak_memory
