"""The callback added to each fit() call: run_start, step and epoch events.

Steps are coalesced to at most one event per 50 ms; the newest step is always
written before an epoch ends or training ends. Turning Keras' logs into
numbers waits for the step's results, so it happens only when an event goes
out. `async_safe = True`: Keras may run `on_train_batch_end` in a worker
thread, as without memtui; a lock keeps the newest step.

Every hook method is guarded: if memtui's own code fails, the failure is
reported once and the callback goes quiet for the rest of that fit(); the
user's training is not touched. A TensorFlow or JAX error raised while reading
a step's results (an OOM under async execution) is the step's, not memtui's:
it propagates so fit() ends as it would have.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from _memtui_hook.devices import MemoryReader
from _memtui_hook.state import HookState

MIN_INTERVAL = 0.05


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _accuracy(metrics: dict[str, float]) -> float | None:
    if "accuracy" in metrics:
        return metrics["accuracy"]
    for name, value in metrics.items():
        if name.endswith("accuracy") and not name.startswith("val_"):
            return value
    return None


def _from_training(exc: BaseException) -> bool:
    """An error of the training step surfacing where its results are read
    (async execution: an OOM can show up in `float(logs[...])`)."""
    if isinstance(exc, MemoryError):
        return True
    if type(exc).__module__.split(".")[0] in ("jax", "jaxlib"):
        return True  # JAX's runtime errors (JaxRuntimeError) surface when a step's result is read
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(exc, tf.errors.OpError)


def _guarded(method: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> None:
        if self.broken:
            return
        try:
            method(self, *args, **kwargs)
        except Exception as exc:
            if _from_training(exc):
                raise  # the step itself failed (reading its results): fit() reports it, as without memtui
            self.broken = True
            self.state.problems.report("the event callback", exc, "no more events from this fit(); training goes on")
    return guarded


@functools.cache
def callback_class(keras: ModuleType) -> type:
    """The callback class, made once keras is imported (the hook never imports it)."""

    class MemtuiEvents(keras.callbacks.Callback):  # type: ignore[misc, name-defined]
        async_safe = True

        def __init__(self, state: HookState, run_start: Callable[[Any], dict[str, Any]],
                     batch_size: int | None) -> None:
            super().__init__()
            self.state = state
            self.run_start = run_start
            self.batch_size = batch_size
            self.phase = state.phase
            self.broken = False
            self.stopped = False
            self.peak_memory: int | None = None
            self.memory: MemoryReader | None = None
            self._epoch = 0
            self._epoch_base = state.global_steps
            self._lock = threading.Lock()
            self._last_end: float | None = None
            self._last_emit = 0.0
            self._pending: tuple[int, dict[str, Any]] | None = None
            self._seconds = 0.0
            self._count = 0
            self._last_step = 0
            self._newest = 0  # the newest step of this epoch seen ending
            self._learned_steps: int | None = None  # an epoch's length, where Keras does not know it

        def steps_in_epoch(self) -> int | None:
            return self.params.get("steps") or self._learned_steps

        def request_stop(self) -> None:
            """From the SIGINT handler (main thread): fit ends after the step in progress.
            `_model`, not `model`: on JAX that property syncs the training state,
            which a signal landing mid-step would corrupt (see trainer/events.py)."""
            model = getattr(self, "_model", None)
            if model is not None:
                model.stop_training = True
                self.stopped = True

        @_guarded
        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.memory = MemoryReader()
            fields = self.run_start(self.model)
            fields["steps_in_epoch"] = self.params.get("steps")
            fields["epochs"] = self.params.get("epochs")
            self.state.writer.emit("run_start", **fields)
            if self.state.stop_requested:
                self.request_stop()
            self._last_end = time.perf_counter()

        @_guarded
        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self._epoch = epoch
            self._epoch_base = self.state.global_steps
            self._newest = 0
            self._last_end = time.perf_counter()  # a step's time leaves out the last epoch's validation

        @_guarded
        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            if self.state.settings.fault == "callback":
                raise RuntimeError("fault injected by the test setting fault=callback")
            now = time.perf_counter()
            with self._lock:
                step = batch + 1
                if step <= self._newest:
                    # An older step finishing late: Keras' async workers may run the
                    # ends of two steps out of order, and the newer one already counted.
                    return
                self._newest = step
                self._seconds += now - (self._last_end or now)
                self._count += 1
                self._last_end = now
                self._pending = (step, dict(logs or {}))
                self._last_step = step
                self.state.global_steps = max(self.state.global_steps, self._epoch_base + step)
                if now - self._last_emit >= MIN_INTERVAL or self.stopped:
                    self._flush_locked()

        def _flush_locked(self) -> None:
            if self._pending is None or self.memory is None:
                return
            step, logs = self._pending
            seconds = self._seconds / max(1, self._count)
            metrics = {k: v for k, v in ((k, _number(v)) for k, v in logs.items()) if v is not None}
            memory = self.memory.read()
            peak = MemoryReader.peak_of(memory)
            if peak is not None:
                self.peak_memory = max(self.peak_memory or 0, peak)
            batch = self.batch_size or 0
            self.state.writer.emit(
                "step", phase=self.phase, epoch=self._epoch + 1, step=step, global_step=self._epoch_base + step,
                steps_in_epoch=self.steps_in_epoch(), loss=metrics.get("loss"), accuracy=_accuracy(metrics),
                metrics=metrics, batch_size=batch, step_seconds=round(seconds, 6),
                examples_per_second=round(batch / seconds, 3) if seconds > 0 and batch else 0.0, memory=memory,
            )
            self._pending = None
            self._seconds = 0.0
            self._count = 0
            self._last_emit = time.perf_counter()

        @_guarded
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            with self._lock:
                if not self.params.get("steps") and not self.stopped and self._last_step:
                    self._learned_steps = self._last_step
                self._flush_locked()
            metrics = {k: v for k, v in ((k, _number(v)) for k, v in (logs or {}).items()) if v is not None}
            self.state.writer.emit("epoch", phase=self.phase, epoch=epoch + 1, epochs=self.params.get("epochs"),
                                   metrics=metrics)

        @_guarded
        def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
            with self._lock:
                self._flush_locked()

        def read_peak(self) -> int | None:
            try:
                if self.memory is not None:
                    peak = MemoryReader.peak_of(self.memory.read())
                    if peak is not None:
                        self.peak_memory = max(self.peak_memory or 0, peak)
            except Exception:  # a reading for run_end only
                pass
            return self.peak_memory

    return MemtuiEvents
