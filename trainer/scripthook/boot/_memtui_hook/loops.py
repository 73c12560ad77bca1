"""Steps of a training loop that is not fit(): counted from the optimizer's updates.

Much serious training is a loop of its own (`tf.GradientTape` and
`optimizer.apply_gradients`, JAX and `optimizer.apply`). memtui sees no
callbacks there, so it shows what can honestly be seen:

- steps: the first time an optimizer applies gradients outside fit(), the
  loop is a phase of its own (run_start with `"input": "loop"`); a thread
  then reads that optimizer's `iterations` (it counts applied updates, inside
  a `tf.function` too) twice a second and writes a step event when it grew,
  with the rate and a memory reading;
- metrics: Keras metrics the script made itself (not inside compile() or
  fit()) and updates in its loop (a `count` above zero), with a metric named
  like `loss` as the loss. A loss only printed is not read: never invented;
- the end: at interpreter exit, run_end (and `oom` for an out-of-memory
  error that ended the script), from the exception Python reported, if any.

A JAX loop of `optimizer.stateless_apply` inside `jax.jit` updates no
variable memtui can read: the run_start says steps cannot be counted there.
Batch changes only through `{batch_size}` or the script's own flags; growth,
the cap, precision and XLA act from outside as for fit(). Everything here
fails open: an error turns the watch off and the loop goes on.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
import weakref
from types import ModuleType
from typing import Any

from _memtui_hook.state import HookState
from _memtui_hook.tracebacks import hide_own_frames
from _memtui_hook.trainer_files import load

INTERVAL = 0.5
_backends = load("backends")
_reading = load("memreading")
_report = load("stepreport")


def _owner(cls: type, name: str) -> type | None:
    return next((c for c in cls.__mro__ if name in c.__dict__), None)


def install(keras: ModuleType, state: HookState) -> None:
    """Patch the optimizer's `apply` and `stateless_apply`, and Metric's constructor, where Keras defines them."""
    optimizer = _owner(keras.optimizers.Optimizer, "apply")
    stateless = _owner(keras.optimizers.Optimizer, "stateless_apply")
    metric = _owner(keras.metrics.Metric, "__init__")
    if optimizer is None or metric is None or getattr(optimizer.apply, "_memtui", False):
        return
    original_apply = optimizer.apply
    original_init = metric.__init__

    def apply(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not state.in_fit and state.active() and not _inside_keras_training():
            _seen(state, keras, self, stateless=False)
        try:
            return original_apply(self, *args, **kwargs)
        except BaseException as exc:  # the script's own error, as without memtui
            hide_own_frames(exc)
            raise

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            original_init(self, *args, **kwargs)
        except BaseException as exc:
            hide_own_frames(exc)
            raise
        if not state.in_fit and state.active():
            _metrics.append(weakref.ref(self))

    for wrapper, original, name in ((apply, original_apply, "apply"), (init, original_init, "__init__")):
        wrapper.__wrapped__ = original  # type: ignore[attr-defined]
        wrapper.__doc__, wrapper.__name__ = original.__doc__, name
        wrapper._memtui = True  # type: ignore[attr-defined]
    optimizer.apply = apply
    metric.__init__ = init
    if stateless is not None and stateless is optimizer:  # the TensorFlow optimizer has its own
        original_stateless = stateless.stateless_apply

        def stateless_apply(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not state.in_fit and state.active():
                _seen(state, keras, self, stateless=True)
            try:
                return original_stateless(self, *args, **kwargs)
            except BaseException as exc:
                hide_own_frames(exc)
                raise

        stateless_apply.__wrapped__ = original_stateless  # type: ignore[attr-defined]
        stateless_apply.__doc__, stateless_apply.__name__ = original_stateless.__doc__, "stateless_apply"
        stateless.stateless_apply = stateless_apply


def _inside_keras_training() -> bool:
    """Whether Keras' own train step makes this update (a fit() memtui did not patch)."""
    frame = sys._getframe(2)
    for _ in range(8):
        if frame is None:
            return False
        name = str(frame.f_globals.get("__name__", ""))
        if name.startswith("keras.src.backend.") and name.endswith(".trainer"):
            return True
        frame = frame.f_back
    return False


_metrics: list[weakref.ref[Any]] = []  # Keras metrics the script made outside compile() and fit()


def _seen(state: HookState, keras: ModuleType, optimizer: Any, stateless: bool) -> None:
    if state.loop is False:
        return
    try:
        if state.fault("loop"):
            raise RuntimeError("fault injected by the test setting fault=loop")
        if state.loop is None:
            state.loop = LoopWatch(state, keras, stateless, optimizer)
        if state.loop.on:
            state.loop.add(optimizer)
    except Exception as exc:
        if isinstance(state.loop, LoopWatch):
            state.loop.on = False
        else:
            state.loop = False  # a watch that never started: not tried again
        state.problems.report("the training-loop watch", exc, "no steps from this loop; training goes on")


def _refuse_compile_remedies(state: HookState, optimizer: Any, phase: int) -> None:
    """What memtui applies through compile() and fit() does not reach a loop that
    calls neither: say so where it was asked for (never pretend it runs)."""
    settings = state.settings
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    asked = settings.grad_accum
    if asked and asked > 1 and getattr(inner, "gradient_accumulation_steps", None) != asked:
        state.refuse("grad-accum", "a training loop calls its own optimizer, and memtui sets accumulation through "
                     "compile(), which did not make this one; the script's own setting stays", True, phase)
    if settings.jit_compile is False:
        state.refuse("jit-compile", "a training loop compiles its own step (tf.function(jit_compile=...) or "
                     "jax.jit); memtui's XLA switch acts on compile() and fit() only", True, phase)


class LoopWatch:
    def __init__(self, state: HookState, keras: ModuleType, stateless: bool, optimizer: Any) -> None:
        self.state = state
        self.keras = keras
        self.on = True
        self.phase = state.phase + 1
        state.phase = self.phase
        self.optimizers: list[weakref.ref[Any]] = []
        self.memory = _reading.MemoryReader()
        self.peak: int | None = None
        self.last = 0
        self.last_time = time.perf_counter()
        self.steps_before = state.global_steps
        self._lock = threading.Lock()
        self._stop = threading.Event()
        batch = state.settings.batch_size if state.settings.batch_placeholder else None
        if stateless:
            state.refuse("loop-steps", "a JAX loop of optimizer.stateless_apply inside jax.jit updates no variable "
                         "memtui can read, so its steps cannot be counted; memory is watched", False, self.phase)
        if state.settings.batch_size is not None and not state.settings.batch_placeholder:
            state.refuse("batch", "a training loop makes its own batches; put {batch_size} in the command where the "
                         "script takes its batch", True, self.phase)
        _refuse_compile_remedies(state, optimizer, self.phase)
        self.batch = batch
        state.writer.emit(
            "run_start", phase=self.phase, config=state.settings.to_dict(), input="loop", dataset={"input": "loop"},
            backend=keras.backend.backend(), keras_version=keras.__version__,
            tf_version=getattr(sys.modules.get("tensorflow"), "__version__", ""), devices=_backends.describe_devices(),
            batch_size=batch, batch_control="placeholder" if batch else None, steps_in_epoch=None, epochs=None,
            dtype_policy=keras.config.dtype_policy().name, memory_growth=_growth(), params=0,
            notes=[*state.notes, *state.ledger.notes(self.phase),
                   "a training loop without fit(): steps are counted from the optimizer's updates"],
            not_applied=state.ledger.records(self.phase))
        atexit.register(self.close)
        self._thread = threading.Thread(target=self._watch, name="memtui-loop-steps", daemon=True)
        self._thread.start()

    def add(self, optimizer: Any) -> None:
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        if not any(ref() is inner for ref in self.optimizers):
            self.optimizers.append(weakref.ref(inner))

    def _watch(self) -> None:
        while not self._stop.wait(INTERVAL):
            try:
                self.report()
            except Exception as exc:
                self.on = False
                self.state.problems.report("the training-loop watch", exc, "no more steps from this loop")
                return

    def _count(self) -> int:
        counts = []
        for ref in self.optimizers:
            optimizer = ref()
            if optimizer is not None:
                counts.append(int(self.keras.ops.convert_to_numpy(optimizer.iterations)))
        return max(counts, default=0)

    def report(self) -> None:
        with self._lock:
            count = self._count()
            if count <= self.last:
                return
            now = time.perf_counter()
            seconds = (now - self.last_time) / (count - self.last)
            metrics = _loop_metrics(self.keras)
            memory = self.memory.read()
            peak = _reading.MemoryReader.peak_of(memory)
            if peak is not None:
                self.peak = max(self.peak or 0, peak)
            batch = self.batch or 0
            self.state.global_steps = self.steps_before + count
            loss_name = next((k for k in metrics if "loss" in k), None)
            self.state.writer.emit(
                "step", phase=self.phase, epoch=1, step=count, global_step=self.steps_before + count,
                steps_in_epoch=None, loss=metrics[loss_name] if loss_name else None, loss_seen=loss_name is not None,
                accuracy=_report.accuracy_of(metrics), metrics=metrics, batch_size=batch,
                step_seconds=round(seconds, 6), examples_per_second=round(batch / seconds, 3) if batch else 0.0,
                memory=memory)
            self.last, self.last_time = count, now

    def close(self) -> None:
        """At interpreter exit: the last steps, then how the script ended."""
        self._stop.set()
        self._thread.join(timeout=2.0)
        try:
            if self.on:
                self.report()
            exc = getattr(sys, "last_value", None)  # set when an exception ended the script
            status = "finished"
            if isinstance(exc, BaseException) and not isinstance(exc, SystemExit):
                status = "oom" if _backends.is_oom(exc) else "error"
                if status == "oom":
                    self.state.writer.emit("oom", phase=self.phase, **_backends.oom_fields(exc))
            self.state.writer.emit("run_end", phase=self.phase, status=status, steps=self.state.global_steps,
                                   phase_steps=self.last, peak_memory=self.peak,
                                   hook_errors=list(self.state.problems.messages),
                                   not_applied=self.state.ledger.records(self.phase))
        except Exception as exc:
            self.state.problems.report("the end of the training loop", exc, "its end is not in the events")


def _growth() -> bool:
    import os

    backend = _backends.active()
    return bool(backend is not None and backend.growth_on(os.environ))


def _loop_metrics(keras: ModuleType) -> dict[str, float]:
    """The script's own metrics that its loop updated, by name."""
    out: dict[str, float] = {}
    alive = []
    for ref in _metrics:
        metric = ref()
        if metric is None:
            continue
        alive.append(ref)
        count = next((v for v in metric.variables if v.name.endswith("count")), None)
        if count is None or float(keras.ops.convert_to_numpy(count.value)) <= 0:
            continue
        value = _report.number(keras.ops.convert_to_numpy(metric.result()))
        if value is not None:
            out[metric.name] = value
    _metrics[:] = alive
    return out
