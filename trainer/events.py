"""The Keras callback that turns training into protocol events.

Step events are coalesced to at most one per `min_interval` (20 a second by
default) so a fast model does not spend its time writing; whatever step came
last is always written before an epoch or the run ends. Converting the logs to
numbers forces a device sync, so it happens only when an event goes out.
"""

from __future__ import annotations

import threading
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
    """Emits `step` and `epoch` events, and stops Keras after the step in
    progress when a stop is requested.

    `async_safe`: Keras then runs `on_train_batch_end` in a worker thread and
    does not wait for each step's results before starting the next one, the
    same as a bare `fit`; a per-step sync would cost throughput on a GPU.
    Keras waits for those workers before every epoch end and the train end, so
    nothing is lost, and a lock keeps the newest step when two overlap.
    """

    async_safe = True

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
        self.steps = 0  # steps started in this process (all finished once fit returns)
        self.completed_steps = 0  # steps whose results came back
        self._confirmed_steps = 0  # completed_steps when a step's results were last read
        self.peak_memory: int | None = None
        self.stopped_in_epoch: int | None = None
        self.stopped_at_epoch_end = False
        self._epoch = initial_epoch
        self._batches_begun = 0  # in the current epoch
        self._newest = 0  # the newest step of the current epoch seen ending
        self._steps_before_epoch = 0
        self._lock = threading.Lock()
        self._last_end: float | None = None
        self._last_emit = 0.0
        self._pending: tuple[int, dict[str, Any]] | None = None
        self._pending_seconds = 0.0
        self._pending_count = 0
        stop.on_request(self.request_stop)

    def request_stop(self) -> None:
        """Runs in the main thread (from the signal handler): Keras checks the
        flag right after the step in progress, so exactly that step finishes.

        The model is read as `_model`: on JAX, Callback.model syncs the training
        state into the model, and a signal can land while a step holds that
        state (donated to the step): the sync would put freed arrays back into
        the model ("Array has been deleted" when fit reads its metrics)."""
        model = getattr(self, "_model", None)
        if model is None or self.stopped_in_epoch is not None:
            return
        model.stop_training = True
        self.stopped_in_epoch = self._epoch
        self.stopped_at_epoch_end = self._batches_begun >= self.steps_in_epoch

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._last_end = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch
        self._batches_begun = 0
        self._newest = 0
        self._steps_before_epoch = self.steps

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.stop.requested and self.stopped_in_epoch is None:
            self.request_stop()  # a stop that came before fit had a model
        self.steps += 1
        self._batches_begun += 1

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # Runs in Keras' worker thread once this step's results exist (on
        # TensorFlow; on JAX the logs are arrays still being computed, and a
        # step that failed raises when they are read: see _flush_locked).
        now = time.perf_counter()
        with self._lock:
            self.completed_steps += 1
            if batch + 1 <= self._newest:
                # An older step finishing late: Keras' async workers may run the ends
                # of two steps out of order, and the newer one already counted.
                return
            self._newest = batch + 1
            self._pending_seconds += now - (self._last_end or now)
            self._pending_count += 1
            self._last_end = now
            self._pending = (batch + 1, dict(logs or {}))
            if now - self._last_emit >= self.min_interval or self.stopped_in_epoch is not None:
                self._flush_locked()

    def flush_step(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        """Write the newest step (if one is waiting), averaging the coalesced steps' timing."""
        if self._pending is None:
            return
        try:
            self._write_pending()
        except BaseException:
            # Reading the results failed, so the step did not complete (JAX raises
            # its out-of-memory error here): count only the steps read before.
            self.completed_steps = self._confirmed_steps
            raise
        self._confirmed_steps = self.completed_steps

    def _write_pending(self) -> None:
        assert self._pending is not None
        step, logs = self._pending
        seconds = self._pending_seconds / max(1, self._pending_count)
        memory = self.memory.read()
        peak = MemoryReader.peak_of(memory)
        if peak is not None:
            self.peak_memory = max(self.peak_memory or 0, peak)
        self.log.emit(
            "step",
            epoch=self._epoch + 1,  # the protocol counts epochs from 1, as people do
            step=step,
            global_step=self._steps_before_epoch + step,
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
        self.log.emit("epoch", epoch=epoch + 1, epochs=self.params.get("epochs"), metrics=metrics)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.flush_step()

    def read_peak(self) -> int | None:
        """The highest memory seen, including right now."""
        peak = MemoryReader.peak_of(self.memory.read())
        if peak is not None:
            self.peak_memory = max(self.peak_memory or 0, peak)
        return self.peak_memory
