"""Patches on public Keras API only: `keras.Model.compile` and `keras.Model.fit`.

compile: XLA off (`jit_compile=False`) when asked; gradient accumulation set
on the optimizer before fit builds it (on the inner optimizer under mixed
precision, whose LossScaleOptimizer refuses it).

fit: one phase per call. The arguments are bound to fit's signature and
copied; the batch remedy is applied (see `inputs`); the user's callbacks
(list, tuple, None or a CallbackList, positional or keyword) are copied with
memtui's event callback (and, with a backup folder, a BackupAndRestore)
added, the user's own list never touched. SIGINT stops gracefully (see
`stopping`). Endings: run_end "finished"/"stopped"; an out-of-memory error
is an `oom` event, run_end "oom" and exit 3 at once (nothing after fit runs
on a half-dead process); any other exception is an `error` event and run_end
"error", then propagates unchanged.

memtui's own failures before fit starts fall back to the unpatched call.
"""

from __future__ import annotations

import inspect
import os
import sys
import traceback
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from _memtui_hook.callback import callback_class
from _memtui_hook.devices import describe_devices
from _memtui_hook.inputs import FitInput, apply_batch
from _memtui_hook.state import HookState
from _memtui_hook.stopping import StopOnSigint
from _memtui_hook.trainer_files import load

_oom = load("oom")
OOM_EXIT = load("protocol").ExitCode.OOM
# The memory settings a run_start shows as the process had them (the remedies' variables among them).
ENV_SHOWN = ("KERAS_BACKEND", "TF_FORCE_GPU_ALLOW_GROWTH", "TF_GPU_ALLOCATOR", *load("backends").JAX_ENV)


def install(keras: ModuleType, state: HookState) -> None:
    model_class = keras.Model
    if getattr(model_class.fit, "_memtui", False):
        return  # already patched (keras imported again)
    original_compile = model_class.compile
    original_fit = model_class.fit
    compile_signature = inspect.signature(original_compile)
    fit_signature = inspect.signature(original_fit)

    def compile(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not state.active():
            return original_compile(self, *args, **kwargs)
        try:
            call = _compile_arguments(compile_signature, state, self, args, kwargs)
        except Exception as exc:
            state.problems.report("the compile() patch", exc, "compile() runs unchanged")
            return original_compile(self, *args, **kwargs)
        if call is None:
            return original_compile(self, *args, **kwargs)
        result = original_compile(*call.args, **call.kwargs)
        try:
            _accumulate(self, state)
        except Exception as exc:
            state.problems.report("gradient accumulation", exc, "the optimizer is left as it was")
        return result

    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not state.active() or state.in_fit:
            return original_fit(self, *args, **kwargs)
        try:
            run = _prepare_fit(keras, fit_signature, state, self, args, kwargs)
        except Exception as exc:
            state.problems.report("the fit() patch", exc, "this fit() runs without memtui")
            return original_fit(self, *args, **kwargs)
        if run is None:
            return original_fit(self, *args, **kwargs)
        state.in_fit = True
        try:
            with run.stop:
                history = original_fit(*run.args, **run.kwargs)
        except BaseException as exc:
            _fit_failed(state, run, exc)
            raise
        finally:
            state.in_fit = False
        _end(state, run, "stopped" if run.callback.stopped else "finished")
        return history

    compile.__wrapped__ = original_compile  # type: ignore[attr-defined]
    fit.__wrapped__ = original_fit  # type: ignore[attr-defined]
    compile.__doc__, fit.__doc__ = original_compile.__doc__, original_fit.__doc__
    compile.__name__, fit.__name__ = "compile", "fit"
    compile._memtui = fit._memtui = True  # type: ignore[attr-defined]
    model_class.compile = compile
    model_class.fit = fit


def _compile_arguments(signature: inspect.Signature, state: HookState, model: Any,
                       args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments | None:
    if state.settings.fault == "compile":
        raise RuntimeError("fault injected by the test setting fault=compile")
    try:
        bound = signature.bind(model, *args, **kwargs)
    except TypeError:
        return None
    if state.settings.jit_compile is False:
        bound.arguments["jit_compile"] = False
    return bound


def _accumulate(model: Any, state: HookState) -> None:
    steps = state.settings.grad_accum
    if steps < 2:
        return
    optimizer = getattr(model, "optimizer", None)
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if inner is None:
        return
    if getattr(inner, "built", False):
        state.notes.append("gradient accumulation not applied: the optimizer had already been used")
        return
    inner.gradient_accumulation_steps = steps


@dataclass
class FitRun:
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    callback: Any
    stop: StopOnSigint
    fit_input: FitInput
    phase: int
    steps_before: int
    notes: list[str] = field(default_factory=list)


def _prepare_fit(keras: ModuleType, signature: inspect.Signature, state: HookState, model: Any,
                 args: tuple[Any, ...], kwargs: dict[str, Any]) -> FitRun | None:
    if state.settings.fault == "fit":
        raise RuntimeError("fault injected by the test setting fault=fit")
    try:
        bound = signature.bind(model, *args, **kwargs)
    except TypeError:
        return None  # wrong arguments: the unpatched fit() tells the user, as without memtui
    arguments = bound.arguments
    fit_input = apply_batch(arguments, state.settings)
    phase = state.phase + 1
    notes = list(state.notes)
    if fit_input.control == "rebatch" and state.settings.batch_size and arguments.get("steps_per_epoch"):
        notes.append("the dataset was re-batched but steps_per_epoch is fixed: an epoch covers fewer samples")

    def describe(m: Any) -> dict[str, Any]:
        return _run_start(keras, state, m, fit_input, phase, notes)

    callback = callback_class(keras)(state, describe, fit_input.batch_size)
    callback.phase = phase
    extra = [callback]
    backup = state.settings.backup_dir
    if backup:
        given = _callbacks_of(arguments.get("callbacks"))
        if any(isinstance(c, keras.callbacks.BackupAndRestore) for c in given):
            notes.append("the script has its own BackupAndRestore: memtui's backup folder is not used")
        else:
            extra.insert(0, keras.callbacks.BackupAndRestore(os.path.join(backup, f"phase-{phase}")))
    arguments["callbacks"] = _with_callbacks(keras, model, arguments.get("callbacks"), extra)
    state.phase = phase

    def request_stop() -> None:
        # Keep the backup of the finished epochs: a relaunch continues from them
        # (BackupAndRestore deletes it at every train end otherwise).
        for cb in extra[:-1]:
            cb.delete_checkpoint = False
        callback.request_stop()

    return FitRun(bound.args, bound.kwargs, callback, StopOnSigint(state, request_stop),
                  fit_input, phase, state.global_steps, notes)


def _callbacks_of(given: Any) -> list[Any]:
    if given is None:
        return []
    if isinstance(given, (list, tuple)):
        return list(given)
    inner = getattr(given, "callbacks", None)
    return list(inner) if isinstance(inner, list) else [given]


def _with_callbacks(keras: ModuleType, model: Any, given: Any, extra: list[Any]) -> Any:
    """A new container with the user's callbacks first, then memtui's."""
    if isinstance(given, keras.callbacks.CallbackList):
        params = dict(getattr(given, "params", None) or {})
        return keras.callbacks.CallbackList([*given.callbacks, *extra], model=model, **params)
    return [*_callbacks_of(given), *extra]


def _run_start(keras: ModuleType, state: HookState, model: Any, fit_input: FitInput, phase: int,
               notes: list[str]) -> dict[str, Any]:
    tf = sys.modules.get("tensorflow")
    optimizer = getattr(model, "optimizer", None)
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    try:
        params = int(model.count_params())
    except ValueError:  # a subclassed model that is not built yet
        params = 0
    policy = getattr(model, "dtype_policy", None)
    return {
        "phase": phase,
        "config": state.settings.to_dict(),
        "params": params,
        "devices": describe_devices(),
        "tf_version": getattr(tf, "__version__", ""),
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "memory_growth": os.environ.get("TF_FORCE_GPU_ALLOW_GROWTH") == "true"
        if keras.backend.backend() != "jax" else os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE") == "false",
        "env": {k: os.environ[k] for k in ENV_SHOWN if k in os.environ},
        "gpu_memory_limit": state.settings.gpu_memory_limit,
        "dataset": {"input": fit_input.kind},
        "input": fit_input.kind,
        "model": getattr(model, "name", type(model).__name__),
        "model_class": type(model).__name__,
        "optimizer": type(inner).__name__ if inner is not None else None,
        "loss_scale": optimizer is not inner,
        "batch_size": fit_input.batch_size,
        "batch_control": fit_input.control,
        "dtype_policy": getattr(policy, "name", None) or keras.config.dtype_policy().name,
        "grad_accum": int(getattr(inner, "gradient_accumulation_steps", None) or 1),
        "jit_compile": bool(getattr(model, "jit_compile", False)),
        "backup_dir": state.settings.backup_dir,
        "initial_epoch": getattr(model, "_initial_epoch", None),
        "notes": notes,
    }


def _end(state: HookState, run: FitRun, status: str, **extra: Any) -> None:
    try:
        state.writer.emit("run_end", phase=run.phase, status=status, steps=state.global_steps,
                          phase_steps=state.global_steps - run.steps_before, peak_memory=run.callback.read_peak(),
                          hook_errors=list(state.problems.messages), **extra)
    except Exception as exc:
        state.problems.report("run_end", exc, "the run's end is not in the events")


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(exc, tf.errors.ResourceExhaustedError):
        return True
    return bool(_oom.is_oom_text(str(exc)))


def _jax_device() -> str | None:
    """Where a JAX step ran ("GPU:0", "CPU:0"): JAX's out-of-memory texts do not say."""
    jax = sys.modules.get("jax")
    keras = sys.modules.get("keras")
    if jax is None or keras is None or keras.backend.backend() != "jax":
        return None
    try:
        return str(load("memreading").jax_device_name(jax.local_devices()[0]))
    except Exception:  # the backend may not have started
        return None


def _fit_failed(state: HookState, run: FitRun, exc: BaseException) -> None:
    """Report how fit ended; an OOM also ends the process with exit 3."""
    headline = type(exc).__name__
    try:
        if isinstance(exc, KeyboardInterrupt):
            _end(state, run, "stopped", forced=True)
            return
        if isinstance(exc, SystemExit):
            _end(state, run, "finished" if exc.code in (None, 0) else "error")
            return
        if not is_oom(exc):
            frames = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            state.writer.emit("error", phase=run.phase, exception=type(exc).__name__, message=str(exc)[:2000],
                              traceback=frames[-4000:])
            _end(state, run, "error")
            return
        fields = _oom.parse_oom(str(exc), type(exc).__name__, _jax_device())
        headline = fields["message"][:300]
        state.writer.emit("oom", phase=run.phase, exception=type(exc).__name__, **fields)
        _end(state, run, "oom")
    except Exception as own:
        state.problems.report("reporting the end of fit()", own, "the exception goes on unchanged")
        if not is_oom(exc):
            return
    _exit_oom(state, headline)


def _exit_oom(state: HookState, headline: str) -> None:
    """Exit 3 at once: the script's code after fit() must not run on a process
    whose allocator just failed (`finally` blocks and atexit are skipped too)."""
    print(f"memtui hook: out of memory in fit(): {headline}; the process exits with code {int(OOM_EXIT)}",
          file=sys.stderr, flush=True)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    state.writer.close()
    os._exit(OOM_EXIT)
