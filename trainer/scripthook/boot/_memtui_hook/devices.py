"""Remedies that need TensorFlow or Keras loaded, and memory readings.

`after_tensorflow` runs right after `import tensorflow` finishes (the script's
own import), before any device is initialised: the per-GPU cap
(`set_logical_device_configuration`). Memory growth needs no code: the
launcher sets TF_FORCE_GPU_ALLOW_GROWTH=true, which overrides the script.
`after_keras` sets the mixed-precision policy before the script builds a
model. Both record what they could not do as notes for run_start.
"""

from __future__ import annotations

import os
import resource
import sys
from types import ModuleType
from typing import Any

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


def read_rss() -> tuple[int, int]:
    """(current, peak) resident bytes of this process, from /proc and getrusage."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        with open("/proc/self/statm", "rb") as fh:
            current = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        current = peak
    return current, max(peak, current)


class MemoryReader:
    """TensorFlow's allocator stats per GPU, else this process's RSS."""

    def __init__(self) -> None:
        tf = sys.modules.get("tensorflow")
        self._get = None
        self._gpus: list[str] = []
        if tf is not None:
            self._get = tf.config.experimental.get_memory_info
            self._gpus = [d.name.replace("/device:", "").split("/")[-1]
                          for d in tf.config.list_logical_devices("GPU")]

    def read(self) -> dict[str, Any]:
        if not self._gpus or self._get is None:
            current, peak = read_rss()
            return {"cpu_rss": current, "cpu_rss_peak": peak}
        out: dict[str, Any] = {}
        for name in self._gpus:
            try:
                info = self._get(name)
            except ValueError:
                continue
            out[name] = {"current": int(info["current"]), "peak": int(info["peak"])}
        return out

    @staticmethod
    def peak_of(memory: dict[str, Any]) -> int | None:
        if "cpu_rss_peak" in memory:
            return int(memory["cpu_rss_peak"])
        peaks = [v["peak"] for v in memory.values() if isinstance(v, dict) and "peak" in v]
        return max(peaks) if peaks else None


def describe_devices() -> list[dict[str, Any]]:
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return []
    return [{"name": d.name, "type": d.device_type} for d in tf.config.list_physical_devices()]
