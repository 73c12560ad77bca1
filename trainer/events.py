"""The Keras callback that turns training into protocol events.

Step events are coalesced to at most one per `min_interval` (20 a second by
default) so a fast model does not spend its time writing; whatever step came
last is always written before an epoch or the run ends. Converting the logs to
numbers forces a device sync, so it happens only when an event goes out.
"""

from __future__ import annotations

import time
from typing import Any

import keras

from trainer.eventlog import EventLog
from trainer.memory import MemoryReader
from trainer.signals import StopFlag


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class EventCallback(keras.callbacks.Callback):
    """Emits `step` and `epoch` events; asks Keras to stop when a stop was requested."""

    def __init__(
        self,
        log: EventLog,
        batch_size: int,
        steps_in_epoch: int,
        memory: MemoryReader,
        stop: StopFlag,
        initial_epoch: int = 0,
        min_interval: float = 0.05,
    ) -> None:
        super().__init__()
        self.log = log
        self.batch_size = batch_size
        self.steps_in_epoch = steps_in_epoch
        self.memory = memory
        self.stop = stop
        self.min_interval = min_interval
        self.steps = 0  # optimizer steps run in this process
        self.peak_memory: int | None = None
        self.stopped_in_epoch: int | None = None
        self.stopped_at_epoch_end = False
        self._epoch = initial_epoch
        self._batch_started = 0.0
        self._last_emit = 0.0
        self._pending: tuple[int, dict[str, Any]] | None = None
        self._pending_seconds = 0.0
        self._pending_count = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batch_started = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        now = time.perf_counter()
        self.steps += 1
        self._pending = (batch + 1, dict(logs or {}))
        self._pending_seconds += now - self._batch_started
        self._pending_count += 1
        if self.stop.requested:
            # The step that was running has finished; fit returns after this.
            self.model.stop_training = True
            self.stopped_in_epoch = self._epoch
            self.stopped_at_epoch_end = batch + 1 >= self.steps_in_epoch
            self.flush_step()
        elif now - self._last_emit >= self.min_interval:
            self.flush_step()

    def flush_step(self) -> None:
        """Write the newest step (if one is waiting), averaging the coalesced steps' timing."""
        if self._pending is None:
            return
        step, logs = self._pending
        seconds = self._pending_seconds / max(1, self._pending_count)
        memory = self.memory.read()
        peak = MemoryReader.peak_of(memory)
        if peak is not None:
            self.peak_memory = max(self.peak_memory or 0, peak)
        self.log.emit(
            "step",
            epoch=self._epoch,
            step=step,
            global_step=self.steps,
            steps_in_epoch=self.steps_in_epoch,
            loss=_number(logs.get("loss")),
            accuracy=_number(logs.get("accuracy")),
            batch_size=self.batch_size,
            step_seconds=round(seconds, 6),
            examples_per_second=round(self.batch_size / seconds, 3) if seconds > 0 else 0.0,
            memory=memory,
        )
        self._pending = None
        self._pending_seconds = 0.0
        self._pending_count = 0
        self._last_emit = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.flush_step()
        metrics = {k: v for k, v in ((k, _number(v)) for k, v in (logs or {}).items()) if v is not None}
        self.log.emit("epoch", epoch=epoch, epochs=self.params.get("epochs"), metrics=metrics)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.flush_step()

    def read_peak(self) -> int | None:
        """The highest memory seen, including right now."""
        peak = MemoryReader.peak_of(self.memory.read())
        if peak is not None:
            self.peak_memory = max(self.peak_memory or 0, peak)
        return self.peak_memory
