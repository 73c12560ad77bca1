"""The Keras callback that turns the built-in trainer's training into protocol events.

The step events come from the reporter the script hook uses too
(trainer/stepreport.py: coalesced, the newest always written at an epoch's
and the training's end); this callback adds what only the trainer does: the
graceful stop, and the count of steps whose results came back.
"""

from __future__ import annotations

import threading
from typing import Any

import keras

from trainer.eventlog import EventLog
from trainer.memory import MemoryReader
from trainer.signals import StopFlag
from trainer.stepreport import StepReporter, numbers


class EventCallback(keras.callbacks.Callback):
    """Emits `step` and `epoch` events, and stops Keras after the step in
    progress when a stop is requested.

    `async_safe`: Keras then runs `on_train_batch_end` in a worker thread and
    does not wait for each step's results before starting the next one, the
    same as a bare `fit`; a per-step sync would cost throughput on a GPU.
    Keras waits for those workers before every epoch end and the train end, so
    nothing is lost, and the reporter's lock keeps the newest step when two overlap.
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
        self.reporter = StepReporter(log.emit, memory, batch_size, lambda: steps_in_epoch, min_interval)
        self.reporter.epoch = initial_epoch
        self.steps = 0  # steps started in this process (all finished once fit returns)
        self.completed_steps = 0  # steps whose results came back
        self._confirmed_steps = 0  # completed_steps when a step's results were last read
        self.stopped_in_epoch: int | None = None
        self.stopped_at_epoch_end = False
        self._epoch = initial_epoch
        self._batches_begun = 0  # in the current epoch
        self._count_lock = threading.Lock()
        self.group_stop: Any = None  # a worker of a group stops at the step the group agreed (trainer/group.py)
        stop.on_request(self.request_stop)

    @property
    def peak_memory(self) -> int | None:
        return self.reporter.peak_memory

    def request_stop(self) -> None:
        """Runs in the main thread (from the signal handler): Keras checks the
        flag right after the step in progress, so exactly that step finishes.
        The model is read as `_model`: on JAX, Callback.model syncs the training
        state into the model, and a signal can land while a step holds that
        state (donated to the step): the sync would put freed arrays back into
        the model ("Array has been deleted" when fit reads its metrics)."""
        if self.group_stop is not None:
            self.group_stop.ask(self.steps)  # the group's workers stop together, at batch begin
            return
        self._stop_now()

    def _stop_now(self) -> None:
        model = getattr(self, "_model", None)
        if model is None or self.stopped_in_epoch is not None:
            return
        model.stop_training = True
        self.stopped_in_epoch = self._epoch
        self.stopped_at_epoch_end = self._batches_begun >= self.steps_in_epoch

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.reporter.begin()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch
        self._batches_begun = 0
        self.reporter.begin_epoch(epoch, self.steps)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.group_stop is None and self.stop.requested and self.stopped_in_epoch is None:
            self.request_stop()  # a stop that came before fit had a model
        self.steps += 1
        self._batches_begun += 1
        if self.group_stop is not None:
            if self.stop.requested and not self.group_stop.asked:
                self.group_stop.ask(self.steps - 1)  # a stop that came before fit
            if self.stopped_in_epoch is None and self.group_stop.due(self.steps - 1):
                self._stop_now()  # this step is every worker's last, so none waits alone in a collective

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # Runs in Keras' worker thread once this step's results exist (on
        # TensorFlow; on JAX the logs are arrays still being computed, and a
        # step that failed raises when they are read: see flush_step).
        with self._count_lock:
            self.completed_steps += 1
        self._guarded(lambda: self.reporter.step_end(batch + 1, logs, force=self.stopped_in_epoch is not None))

    def flush_step(self) -> None:
        self._guarded(self.reporter.flush)

    def _guarded(self, write: Any) -> None:
        """Write a step; if reading its results failed, the step did not complete
        (JAX raises its out-of-memory error there): count only the steps read before."""
        try:
            write()
        except BaseException:
            self.completed_steps = self._confirmed_steps
            raise
        if not self.reporter.waiting():
            self._confirmed_steps = self.completed_steps

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.flush_step()
        self.log.emit("epoch", epoch=epoch + 1, epochs=self.params.get("epochs"), metrics=numbers(logs))

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.flush_step()

    def read_peak(self) -> int | None:
        """The highest memory seen, including right now."""
        return self.reporter.read_peak()
