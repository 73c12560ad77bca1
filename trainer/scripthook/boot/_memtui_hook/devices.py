"""Remedies that need TensorFlow, JAX or Keras loaded, and memory readings.

`after_tensorflow` runs right after `import tensorflow` finishes (the script's
own import), before any device is initialised: the per-GPU cap
(`set_logical_device_configuration`). Memory growth needs no code: the
launcher sets TF_FORCE_GPU_ALLOW_GROWTH=true, which overrides the script, and
XLA_PYTHON_CLIENT_PREALLOCATE=false, JAX's growth.
`after_jax` runs right after `import jax` (Keras on the JAX backend imports
it), before JAX starts its GPU client: the cap as XLA_PYTHON_CLIENT_MEM_FRACTION,
computed from the cap in MB and the GPU's total (trainer/backends.py) when the
launcher did not give the fraction itself.
`after_keras` sets the mixed-precision policy before the script builds a
model. All record what they could not do as notes for run_start.
"""

from __future__ import annotations

import json
import os
import sys
from types import ModuleType
from typing import Any

from _memtui_hook import trainer_files
from _memtui_hook.state import HookState

_backends = trainer_files.load("backends")


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
        state.notes.append("a GPU memory cap cannot be combined with memory growth: growth was kept")
        return
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        state.notes.append("no GPU found: the GPU memory cap has nothing to act on")
    for gpu in gpus:
        tf.config.set_logical_device_configuration(gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=limit)])


def after_jax(jax: ModuleType, state: HookState) -> None:
    if not _on_jax():
        return  # TensorFlow imports JAX when it is installed: the cap is TensorFlow's then (after_tensorflow)
    settings = state.settings
    limit = settings.gpu_memory_limit
    if limit is None or settings.gpu_memory_fraction is not None:
        return  # nothing asked, or the launcher set the fraction already (hookspec.launch_env)
    if settings.memory_growth:
        state.notes.append("a GPU memory cap cannot be combined with memory growth: growth was kept")
        return
    given = [k for k in (_backends.MEM_FRACTION, _backends.NEW_MEM_FRACTION) if k in os.environ]
    if given:
        state.notes.append(f"the script's own {given[0]}={os.environ[given[0]]} was kept instead of the "
                           f"{limit} MB cap")
        return
    env, notes = _backends.jax_memory_env(False, limit, _backends.gpu_total_bytes(), os.environ)
    os.environ.update(env)
    state.notes.extend(notes)


def after_keras(keras: ModuleType, state: HookState) -> None:
    if state.settings.mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")


_reading = trainer_files.load("memreading")  # the trainer's own readers, loaded by path
MemoryReader = _reading.MemoryReader


def describe_devices() -> list[dict[str, Any]]:
    jax = sys.modules.get("jax")
    if jax is not None and _reading.keras_backend() == "jax":
        return [{"name": _reading.jax_device_name(d), "type": _reading.jax_device_name(d).split(":")[0],
                 "kind": str(d.device_kind)} for d in jax.local_devices()]
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return []
    return [{"name": d.name, "type": d.device_type} for d in tf.config.list_physical_devices()]
