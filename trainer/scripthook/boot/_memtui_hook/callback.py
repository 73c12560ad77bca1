"""The callbacks memtui adds to a fit() call: the events, and the resume backup.

Events: run_start, step (the trainer's own reporter, trainer/stepreport.py:
coalesced to one event per 50 ms, the newest always written at an epoch's and
the training's end) and epoch. `async_safe = True`: Keras may run
`on_train_batch_end` in a worker thread, as without memtui.

Both fail open. Every hook method is guarded: if memtui's own code fails, the
failure is reported once (hook.log) and the callback goes quiet for the rest
of that fit(); the user's training is not touched. A TensorFlow or JAX error
raised while reading a step's results (an OOM under async execution) is the
step's, not memtui's: it propagates so fit() ends as it would have.

The backup is Keras' BackupAndRestore, off for a model that is not built
when training begins (a subclassed model first built inside fit(): Keras'
callback refuses it with a ValueError), and off after its own first failure.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from _memtui_hook.state import HookState
from _memtui_hook.trainer_files import load

_report = load("stepreport")
_reading = load("memreading")
_internals = load("framework_internals")


def _from_training(exc: BaseException) -> bool:
    """An error of the training step surfacing where its results are read
    (async execution: an OOM can show up in `float(logs[...])`)."""
    if isinstance(exc, MemoryError):
        return True
    if type(exc).__module__.split(".")[0] in ("jax", "jaxlib"):
        return True  # JAX's runtime errors (JaxRuntimeError) surface when a step's result is read
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(exc, tf.errors.OpError)


def _guarded(where: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def decorate(method: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(method)
        def guarded(self: Any, *args: Any, **kwargs: Any) -> None:
            if self.off:
                return
            try:
                method(self, *args, **kwargs)
            except Exception as exc:
                if _from_training(exc):
                    raise  # the step itself failed (reading its results): fit() reports it, as without memtui
                self.off = True
                self.state.problems.report(where, exc, "it is off for the rest of this fit(); training goes on")
                self.state.refuse(self.change, f"memtui's own error ({type(exc).__name__}: {str(exc)[:200]})",
                                  False, self.phase)
        return guarded
    return decorate


@functools.cache
def callback_class(keras: ModuleType) -> type:
    """The events callback class, made once keras is imported (the hook never imports it)."""

    class MemtuiEvents(keras.callbacks.Callback):  # type: ignore[misc, name-defined]
        async_safe = True
        change = "events"

        def __init__(self, state: HookState, run_start: Callable[[Any], dict[str, Any]],
                     batch_size: int | None) -> None:
            super().__init__()
            self.state = state
            self.run_start = run_start
            self.phase = state.phase
            self.off = False
            self.stopped = False
            self._learned_steps: int | None = None  # an epoch's length, where Keras does not know it
            self.reporter = _report.StepReporter(state.writer.emit, None, batch_size, self.steps_in_epoch)

        def steps_in_epoch(self) -> int | None:
            return self.params.get("steps") or self._learned_steps

        def request_stop(self) -> None:
            """From the SIGINT handler (main thread): fit ends after the step in progress.
            Not `Callback.model`: on JAX that property syncs the training state,
            which a signal landing mid-step would corrupt (see trainer/events.py)."""
            model = _internals.callback_model(self)
            if model is not None:
                model.stop_training = True
                self.stopped = True

        @_guarded("the event callback")
        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.reporter.fields = {"phase": self.phase}
            self.reporter.memory = _reading.MemoryReader()
            fields = self.run_start(self.model)
            fields["steps_in_epoch"] = self.params.get("steps")
            fields["epochs"] = self.params.get("epochs")
            self.state.writer.emit("run_start", **fields)
            if self.state.stop_requested:
                self.request_stop()
            self.reporter.begin()

        @_guarded("the event callback")
        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.reporter.begin_epoch(epoch, self.state.global_steps)

        @_guarded("the event callback")
        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            if self.state.fault("callback"):
                raise RuntimeError("fault injected by the test setting fault=callback")
            reporter = self.reporter
            if reporter.step_end(batch + 1, logs, force=self.stopped):
                self.state.global_steps = max(self.state.global_steps, reporter.epoch_base + batch + 1)

        @_guarded("the event callback")
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if not self.params.get("steps") and not self.stopped and self.reporter.newest:
                self._learned_steps = self.reporter.newest
            self.reporter.flush()
            self.state.writer.emit("epoch", phase=self.phase, epoch=epoch + 1, epochs=self.params.get("epochs"),
                                   metrics=_report.numbers(logs))

        @_guarded("the event callback")
        def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
            self.reporter.flush()

        def read_peak(self) -> int | None:
            try:
                return self.reporter.read_peak()
            except Exception:  # a reading for run_end only
                return self.reporter.peak_memory

    return MemtuiEvents


@functools.cache
def backup_class(keras: ModuleType) -> type:
    """memtui's resume backup: Keras' BackupAndRestore, failing open."""

    class MemtuiBackup(keras.callbacks.BackupAndRestore):  # type: ignore[misc, name-defined]
        # It saves at epoch ends only (save_freq="epoch"): its batch hook does nothing, so
        # it must not switch off Keras' asynchronous callback dispatch for the user's fit().
        async_safe = True
        change = "backup"

        def __init__(self, folder: str, state: HookState, phase: int) -> None:
            super().__init__(folder)
            self.state = state
            self.phase = phase
            self.off = False

        @_guarded("the resume backup")
        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            if self.state.fault("backup"):
                raise RuntimeError("fault injected by the test setting fault=backup")
            model = _internals.callback_model(self)
            if model is not None and not model.built:
                self.off = True
                self.state.refuse("backup", "the model is first built inside fit(), and Keras' BackupAndRestore "
                                  "needs a built model; an out-of-memory relaunch starts this fit() afresh",
                                  False, self.phase)
                return
            super().on_train_begin(logs)

        @_guarded("the resume backup")
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            super().on_epoch_end(epoch, logs)

        @_guarded("the resume backup")
        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            super().on_train_batch_end(batch, logs)

        @_guarded("the resume backup")
        def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
            super().on_train_end(logs)

    return MemtuiBackup
