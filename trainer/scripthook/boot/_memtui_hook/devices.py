"""Remedies that need TensorFlow, JAX or Keras loaded, and the framework probe.

`after_tensorflow` runs right after `import tensorflow` finishes (the script's
own import), before any device is initialised: the per-GPU cap
(`set_logical_device_configuration`). Memory growth needs no code: the
launcher sets TF_FORCE_GPU_ALLOW_GROWTH=true, which overrides the script, and
XLA_PYTHON_CLIENT_PREALLOCATE=false, JAX's growth.
`after_jax` runs right after `import jax` (Keras on the JAX backend imports
it), before JAX starts its GPU client: the cap as XLA_PYTHON_CLIENT_MEM_FRACTION,
computed from the cap in MB and the GPU's total (trainer/backends/) when the
launcher did not give the fraction itself.
`after_keras` sets the mixed-precision policy before the script builds a
model. Each fails open: what it could not do is refused in the ledger, with
the reason, and the script goes on as written.
"""

from __future__ import annotations

import json
import os
from types import ModuleType

from _memtui_hook import trainer_files
from _memtui_hook.state import HookState

_backends = trainer_files.load("backends")
_internals = trainer_files.load("framework_internals")


def _on_jax() -> bool:
    """Whether Keras will pick JAX: KERAS_BACKEND, else keras.json as Keras reads it."""
    backend = os.environ.get(_backends.KERAS_BACKEND)
    if backend is None:
        home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
        try:
            with open(os.path.join(home, "keras.json"), encoding="utf-8") as fh:
                backend = json.load(fh).get("backend")
        except (OSError, ValueError, AttributeError):
            backend = None
    return backend == "jax"


def after_tensorflow(tf: ModuleType, state: HookState) -> None:
    limit = state.settings.gpu_memory_limit
    if limit is None or _on_jax():  # on JAX, TensorFlow only feeds data: the cap is JAX's (after_jax)
        return
    if state.settings.memory_growth:
        state.refuse("gpu-cap", "a GPU memory cap cannot be combined with memory growth: growth was kept", True)
        return
    try:
        if state.fault("cap"):
            raise RuntimeError("fault injected by the test setting fault=cap")
        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            state.refuse("gpu-cap", "no GPU found: the cap has nothing to act on", True)
        for gpu in gpus:
            tf.config.set_logical_device_configuration(gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=limit)])
    except Exception as exc:  # e.g. RuntimeError: the script's own code had already started the GPU
        state.refuse("gpu-cap", f"TensorFlow refused it ({type(exc).__name__}: {str(exc)[:200]})", True)


def after_jax(jax: ModuleType, state: HookState) -> None:
    if not _on_jax():
        return  # TensorFlow imports JAX when it is installed: the cap is TensorFlow's then (after_tensorflow)
    settings = state.settings
    limit = settings.gpu_memory_limit
    if limit is None or settings.gpu_memory_fraction is not None:
        return  # nothing asked, or the launcher set the fraction already (hookspec.launch_env)
    if settings.memory_growth:
        state.refuse("gpu-cap", "a GPU memory cap cannot be combined with memory growth: growth was kept", True)
        return
    given = [k for k in (_backends.MEM_FRACTION, _backends.NEW_MEM_FRACTION) if k in os.environ]
    if given:
        state.refuse("gpu-cap", f"the script's own {given[0]}={os.environ[given[0]]} was kept instead of the "
                     f"{limit} MB cap", True)
        return
    env, notes = _backends.jax_memory_env(False, limit, _backends.gpu_total_bytes(), os.environ)
    os.environ.update(env)
    if env:
        state.notes.extend(notes)  # what was done, in words
    else:
        for note in notes:
            state.refuse("gpu-cap", note, True)


def after_keras(keras: ModuleType, state: HookState) -> None:
    if not state.settings.mixed_precision:
        return
    try:
        if state.fault("policy"):
            raise ValueError("fault injected by the test setting fault=policy")
        before = keras.config.dtype_policy().name
        keras.config.set_dtype_policy("mixed_float16")
        state.policy_before = before  # the way back (precision.undo) when a fit() breaks on float16
    except Exception as exc:
        state.refuse("mixed-precision", f"Keras refused the policy ({type(exc).__name__}: {exc})", True)


def probe_internals(state: HookState) -> None:
    """The private framework names memtui reads, checked once; what moved is said in words."""
    try:
        missing = _internals.probe()
    except Exception as exc:
        state.problems.report("probing the framework internals", exc, "memtui goes on without the probe")
        return
    for name in missing:
        state.refuse("framework", name.words(), False)


def describe_devices() -> list[dict[str, object]]:
    return _backends.describe_devices()
