"""One fit() call as memtui changes it: its arguments, its callbacks, its run_start.

The arguments are bound to fit's signature and copied; the batch remedy is
applied where it is safe (see `inputs`); the user's callbacks (list, tuple,
None or a CallbackList, positional or keyword) are copied with memtui's event
callback (and, with a backup folder, its resume backup) added, the user's own
list never touched. Each step fails open: what cannot be done is refused in
the ledger, with the reason, and that part of the call stays as written.
"""

from __future__ import annotations

import inspect
import os
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from _memtui_hook.callback import backup_class, callback_class
from _memtui_hook.devices import describe_devices
from _memtui_hook.inputs import FitInput, apply_batch
from _memtui_hook.state import HookState
from _memtui_hook.stopping import StopOnSigint
from _memtui_hook.trainer_files import load

_backends = load("backends")
_internals = load("framework_internals")


@dataclass
class FitCall:
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    callback: Any
    stop: StopOnSigint
    fit_input: FitInput
    phase: int
    steps_before: int
    changed_arguments: bool  # memtui changed what fit() trains on (the batch): a way back exists


def prepare(keras: ModuleType, signature: inspect.Signature, state: HookState, model: Any,
            args: tuple[Any, ...], kwargs: dict[str, Any]) -> FitCall | None:
    if state.fault("fit"):
        raise RuntimeError("fault injected by the test setting fault=fit")
    try:
        bound = signature.bind(model, *args, **kwargs)
    except TypeError:
        return None  # wrong arguments: the unpatched fit() tells the user, as without memtui
    arguments = bound.arguments
    phase = state.phase + 1
    before = dict(arguments)
    try:
        if state.fault("batch"):
            raise RuntimeError("fault injected by the test setting fault=batch")
        fit_input = apply_batch(arguments, state.settings)
        if state.fault("batch-start") and fit_input.control == "arrays" and state.settings.batch_size:
            arguments["batch_size"] = "not a batch"  # memtui's change makes fit() fail at its start
    except Exception as exc:
        arguments.clear()
        arguments.update(before)
        fit_input = FitInput("other", None, None, f"memtui's own error ({type(exc).__name__}: {exc})")
    if fit_input.refused:
        state.refuse("batch", fit_input.refused, True, phase)
    if fit_input.control == "rebatch" and state.settings.batch_size and arguments.get("steps_per_epoch"):
        state.notes.append("the dataset was re-batched but steps_per_epoch is fixed: an epoch covers fewer samples")
    changed = any(arguments.get(k) is not before.get(k) for k in ("x", "batch_size", "validation_data"))

    def describe(m: Any) -> dict[str, Any]:
        return run_start(keras, state, m, fit_input, phase)

    callback = callback_class(keras)(state, describe, fit_input.batch_size)
    callback.phase = phase
    extra = [callback]
    backup = _backup(keras, state, arguments.get("callbacks"), phase)
    if backup is not None:
        extra.insert(0, backup)
    arguments["callbacks"] = _with_callbacks(keras, model, arguments.get("callbacks"), extra)
    state.phase = phase

    def request_stop() -> None:
        # Keep the backup of the finished epochs: a relaunch continues from them
        # (BackupAndRestore deletes it at every train end otherwise).
        if backup is not None:
            backup.delete_checkpoint = False
        callback.request_stop()

    return FitCall(bound.args, bound.kwargs, callback, StopOnSigint(state, request_stop, phase), fit_input, phase,
                   state.global_steps, changed)


def _backup(keras: ModuleType, state: HookState, given: Any, phase: int) -> Any:
    folder = state.settings.backup_dir
    if not folder:
        return None
    if any(isinstance(c, keras.callbacks.BackupAndRestore) for c in _callbacks_of(given)):
        state.notes.append("the script has its own BackupAndRestore: memtui's backup folder is not used")
        return None
    try:
        return backup_class(keras)(os.path.join(folder, f"phase-{phase}"), state, phase)
    except Exception as exc:
        state.refuse("backup", f"memtui's own error ({type(exc).__name__}: {exc})", False, phase)
        return None


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


def run_start(keras: ModuleType, state: HookState, model: Any, fit_input: FitInput, phase: int) -> dict[str, Any]:
    tf = sys.modules.get("tensorflow")
    optimizer = getattr(model, "optimizer", None)
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    try:
        params = int(model.count_params())
    except ValueError:  # a subclassed model that is not built yet
        params = 0
    policy = getattr(model, "dtype_policy", None)
    policy_name = getattr(policy, "name", None) or keras.config.dtype_policy().name
    if state.settings.mixed_precision and "float16" not in str(policy_name):
        state.refuse("mixed-precision", f"this model's dtype policy is {policy_name} (the script sets its own "
                     "policy, or the model was loaded with its saved dtypes)", True, phase)
    backend = _backends.active()
    growth = backend.growth_on(os.environ) if backend is not None else False
    if state.settings.memory_growth and not growth:
        state.refuse("memory-growth", "the variable that carries it is not set in this process", True, phase)
    return {
        "phase": phase,
        "config": state.settings.to_dict(),
        "params": params,
        "devices": describe_devices(),
        "tf_version": getattr(tf, "__version__", ""),
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "memory_growth": growth,
        "env": {k: os.environ[k] for k in _backends.ENV_SHOWN if k in os.environ},
        "gpu_memory_limit": state.settings.gpu_memory_limit,
        "dataset": {"input": fit_input.kind},
        "input": fit_input.kind,
        "model": getattr(model, "name", type(model).__name__),
        "model_class": type(model).__name__,
        "optimizer": type(inner).__name__ if inner is not None else None,
        "loss_scale": optimizer is not inner,
        "batch_size": fit_input.batch_size,
        "batch_control": fit_input.control,
        "dtype_policy": policy_name,
        "grad_accum": int(getattr(inner, "gradient_accumulation_steps", None) or 1),
        "jit_compile": bool(getattr(model, "jit_compile", False)),
        "backup_dir": state.settings.backup_dir,
        "initial_epoch": _internals.initial_epoch(model),
        "notes": [*state.notes, *state.ledger.notes(phase)],
        "not_applied": state.ledger.records(phase),
    }
