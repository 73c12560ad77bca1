"""Patches on Keras' own `compile` and `fit`, failing open.

compile is patched on the class that defines it (Keras' Trainer), never on a
subclass: `compile_from_config`, which load_model() calls, compares the
model's compile with Trainer.compile and skips compiling when they differ,
which left restored models without an optimizer or loss. In a compile() the
script makes: XLA off (`jit_compile=False`) when asked; gradient accumulation
on the optimizer before fit builds it (on the inner optimizer under mixed
precision, whose LossScaleOptimizer refuses it). In a compile() Keras makes
itself (load_model, compile_from_config), accumulation is refused: the
restored optimizer's saved state must load as it was saved.

fit: one phase per call (see `fitcall`); endings as events (see `endings`).
A failure in memtui's own code runs the user's call as written. A way back:
when fit() fails before its first step with an error that is not an
out-of-memory one, and memtui changed what it trains on (the batch), or its
mixed precision broke it (an error naming float16: `precision.undo` puts the
script's policy back), the call is made again as the script wrote it, and the
ledger says why. Accumulation is refused under a tf.distribute strategy (Keras'
accumulation fails there in the train step). The script's own exceptions lose
the wrappers' frames before they go on (`tracebacks`).
"""

from __future__ import annotations

import inspect
import sys
from types import ModuleType
from typing import Any

from _memtui_hook import endings, precision
from _memtui_hook.fitcall import FitCall, prepare
from _memtui_hook.state import HookState
from _memtui_hook.tracebacks import hide_own_frames
from _memtui_hook.trainer_files import load

_backends = load("backends")
_internals = load("framework_internals")


def install(keras: ModuleType, state: HookState) -> None:
    model_class = keras.Model
    if getattr(model_class.fit, "_memtui", False):
        return  # already patched (keras imported again)
    owner = _internals.compile_owner(model_class)
    if owner is None:
        state.refuse("jit-compile", "Keras' compile could not be found where load_model() looks for it",
                     state.settings.jit_compile is False)
    else:
        _patch_compile(owner, state)
    _patch_fit(keras, model_class, state)


def _finish(wrapper: Any, original: Any, name: str) -> None:
    wrapper.__wrapped__ = original
    wrapper.__doc__, wrapper.__name__, wrapper.__qualname__ = original.__doc__, name, original.__qualname__
    wrapper.__dict__.update(getattr(original, "__dict__", {}))  # Keras' own markers (`_is_default`)
    wrapper._memtui = True


def _called_by_keras() -> bool:
    """Whether the compile() being made is Keras' own (load_model's compile_from_config)."""
    frame = sys._getframe(2)
    return str(frame.f_globals.get("__name__", "")).startswith("keras.")


def _patch_compile(owner: type, state: HookState) -> None:
    original = owner.compile
    signature = inspect.signature(original)

    def compile(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            if not state.active():
                return original(self, *args, **kwargs)
            try:
                by_keras = _called_by_keras()
                call = _compile_arguments(signature, state, self, args, kwargs)
            except Exception as exc:
                state.problems.report("the compile() patch", exc, "compile() runs as written")
                return original(self, *args, **kwargs)
            if call is None:
                return original(self, *args, **kwargs)
            try:
                if state.fault("jit") and call.arguments.get("jit_compile") is False:
                    raise TypeError("fault injected by the test setting fault=jit")
                result = original(*call.args, **call.kwargs)
            except Exception as exc:
                if call.arguments.get("jit_compile") is not False or kwargs.get("jit_compile") is False:
                    raise  # the script's own compile() error
                state.refuse("jit-compile", f"compile() refused jit_compile=False ({type(exc).__name__}: {exc})", True)
                return original(self, *args, **kwargs)
            try:
                _accumulate(self, state, by_keras)
            except Exception as exc:
                state.problems.report("gradient accumulation", exc, "the optimizer is left as it was")
                state.refuse("grad-accum", f"memtui's own error ({type(exc).__name__}: {exc})", True)
            return result
        except BaseException as exc:  # the script's own error, as without memtui
            hide_own_frames(exc)
            raise

    _finish(compile, original, "compile")
    owner.compile = compile


def _compile_arguments(signature: inspect.Signature, state: HookState, model: Any,
                       args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments | None:
    if state.fault("compile"):
        raise RuntimeError("fault injected by the test setting fault=compile")
    try:
        bound = signature.bind(model, *args, **kwargs)
    except TypeError:
        return None
    if state.settings.jit_compile is False:
        bound.arguments["jit_compile"] = False
    return bound


def _accumulate(model: Any, state: HookState, by_keras: bool) -> None:
    steps = state.settings.grad_accum
    if steps < 2:
        return
    if state.fault("accumulate"):
        raise RuntimeError("fault injected by the test setting fault=accumulate")
    optimizer = getattr(model, "optimizer", None)
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if inner is None:
        return
    own = getattr(inner, "gradient_accumulation_steps", None)
    if own == steps:
        return  # already on (a restored optimizer saved with it)
    if own:
        state.refuse("grad-accum", f"the script sets its own gradient_accumulation_steps={own}", True)
        return
    if by_keras:
        state.refuse("grad-accum", "the model load_model() restored keeps its saved optimizer, whose state "
                     "loads as it was saved; compile() it again in the script to accumulate", True)
        return
    if getattr(inner, "built", False):
        state.refuse("grad-accum", "the optimizer had already been used before this compile()", True)
        return
    strategy = _tf_strategy(model)
    if strategy is not None:
        state.refuse("grad-accum", f"the model trains under tf.distribute.{strategy}, where Keras' gradient "
                     "accumulation fails inside the train step (its merge_call inside a cond)", True)
        return
    inner.gradient_accumulation_steps = steps


def _tf_strategy(model: Any) -> str | None:
    """The name of the tf.distribute strategy `model` trains under, or None (the default one, or not TF)."""
    tf = sys.modules.get("tensorflow")
    distribute = getattr(tf, "distribute", None)
    if distribute is None:
        return None
    strategy = distribute.get_strategy() if distribute.has_strategy() else getattr(model, "_distribute_strategy", None)
    name = type(strategy).__name__ if strategy is not None else None
    return None if name is None or "Default" in name else name


def _patch_fit(keras: ModuleType, model_class: type, state: HookState) -> None:
    original = model_class.fit
    signature = inspect.signature(original)

    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            if not state.active() or state.in_fit:
                return original(self, *args, **kwargs)
            try:
                call = prepare(keras, signature, state, self, args, kwargs)
            except Exception as exc:
                state.problems.report("the fit() patch", exc, "this fit() runs as written, without memtui")
                return original(self, *args, **kwargs)
            if call is None:
                return original(self, *args, **kwargs)
            state.in_fit = True
            try:
                history = _run(call, original, state, self, args, kwargs)
            finally:
                state.in_fit = False
            endings.end(state, call, "stopped" if call.callback.stopped else "finished")
            return history
        except BaseException as exc:  # the script's own error, as without memtui
            hide_own_frames(exc)
            raise

    _finish(fit, original, "fit")
    model_class.fit = fit


def _run(call: FitCall, original: Any, state: HookState, model: Any, args: tuple[Any, ...],
         kwargs: dict[str, Any]) -> Any:
    try:
        with call.stop:
            return original(*call.args, **call.kwargs)
    except BaseException as exc:
        if not (isinstance(exc, Exception) and _way_back(call, state, model, exc)):
            endings.failed(state, call, exc)
            raise
    try:  # the way back: the call as the script wrote it
        return original(model, *args, **kwargs)
    except BaseException as exc:
        endings.failed(state, call, exc)
        raise


def _way_back(call: FitCall, state: HookState, model: Any, exc: Exception) -> bool:
    """Whether to make the call again as written: it failed before any step
    finished, with an error that is not an OOM, and memtui changed its batch, or
    memtui's mixed precision broke it (an error naming float16; see `precision`)."""
    if state.global_steps != call.steps_before or _backends.is_oom(exc):
        return False
    error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"  # one line, for hook.log and the ledger
    undone = []
    if call.changed_arguments:
        state.refuse("batch", f"fit() failed at its start with memtui's batch ({error}); it ran again as the "
                     "script wrote it", True, call.phase)
        undone.append("batch")
    keras = sys.modules.get("keras")
    if keras is not None and precision.mentions_float16(exc):
        try:
            if precision.undo(keras, state, model):
                state.refuse("mixed-precision", f"fit() {call.phase} failed at its start under memtui's "
                             f"mixed_float16 ({error}); the model and Keras went back to the script's "
                             "policy and fit() ran again as the script wrote it", True)
                undone.append("mixed precision")
        except Exception as own:
            state.problems.report("undoing mixed precision", own, "the script's error goes on unchanged")
    if not undone:
        return False
    state.problems.note(f"fit() {call.phase} failed at its start ({error}); memtui's "
                        f"{' and '.join(undone)} undone, it ran again as the script wrote it")
    return True
