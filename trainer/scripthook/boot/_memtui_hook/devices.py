"""Remedies that need TensorFlow or Keras loaded, and memory readings.

`after_tensorflow` runs right after `import tensorflow` finishes (the script's
own import), before any device is initialised: the per-GPU cap
(`set_logical_device_configuration`). Memory growth needs no code: the
launcher sets TF_FORCE_GPU_ALLOW_GROWTH=true, which overrides the script.
`after_keras` sets the mixed-precision policy before the script builds a
model. Both record what they could not do as notes for run_start.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

from _memtui_hook import trainer_files
from _memtui_hook.state import HookState


def after_tensorflow(tf: ModuleType, state: HookState) -> None:
    limit = state.settings.gpu_memory_limit
    if limit is None:
        return
    if state.settings.memory_growth:
        state.notes.append("a GPU memory cap cannot be combined with memory growth: growth was kept")
        return
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        state.notes.append("no GPU found: the GPU memory cap has nothing to act on")
    for gpu in gpus:
        tf.config.set_logical_device_configuration(gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=limit)])


def after_keras(keras: ModuleType, state: HookState) -> None:
    if state.settings.mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")


_reading = trainer_files.load("memreading")  # the trainer's own readers, loaded by path
MemoryReader = _reading.MemoryReader


def describe_devices() -> list[dict[str, Any]]:
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return []
    return [{"name": d.name, "type": d.device_type} for d in tf.config.list_physical_devices()]
