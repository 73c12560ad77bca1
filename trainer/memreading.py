"""Per-step memory readings, for the built-in trainer and the script hook alike.

Stdlib only (TensorFlow, Keras and JAX are taken from `sys.modules` when the
process already imported them), so the script hook can load this file by path
into a Python that has no memtui installed.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Callable, Mapping
from typing import Any

from .backends import BACKENDS

_BEFORE_KERAS = ("jax", "tensorflow")  # asked in this order where Keras' backend is not known yet


def read_rss() -> tuple[int, int]:
    """(current, peak) resident bytes of this process, cheaply from /proc and getrusage."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        with open("/proc/self/statm", "rb") as fh:
            pages = int(fh.read().split()[1])
        current = pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        try:
            import psutil
        except ImportError:  # the user's own Python may not have it
            current = peak
        else:
            current = psutil.Process().memory_info().rss
    return current, max(peak, current)


def keras_backend() -> str | None:
    """The backend of the Keras this process imported ("tensorflow", "jax", ...), None before."""
    keras = sys.modules.get("keras")
    try:
        return str(keras.backend.backend()) if keras is not None else None
    except Exception:  # a half-imported or foreign `keras`
        return None


class MemoryReader:
    """Per-step memory: the backend's allocator stats per GPU (TensorFlow's
    `get_memory_info`, JAX's `Device.memory_stats()`), else this process's RSS
    (neither has stats for the CPU, and a process on another backend has
    none at all). Make it after the backend started its devices."""

    def __init__(self) -> None:
        self._readers: dict[str, Callable[[], Mapping[str, int] | None]] = {}
        backend = keras_backend()
        # The backend Keras runs on is asked alone: on JAX, TensorFlow (there for
        # tf.data) must not list its GPUs, which would start its runtime beside JAX's.
        # Before Keras is imported, each backend already loaded is asked in turn.
        asked = [BACKENDS[backend]] if backend in BACKENDS else [BACKENDS[name] for name in _BEFORE_KERAS]
        for module in asked:
            self._readers = _safe(module.gpu_memory_readers) or {}
            if self._readers:
                return

    def read(self) -> dict[str, Any]:
        if not self._readers:
            current, peak = read_rss()
            return {"cpu_rss": current, "cpu_rss_peak": peak}
        out: dict[str, Any] = {}
        for name, reader in self._readers.items():
            try:
                info = reader()
            except (ValueError, RuntimeError):
                continue
            if info is None:
                continue
            out[name] = {"current": int(info["current"]), "peak": int(info["peak"])}
            if info.get("limit"):  # JAX: the allocator's pool (its preallocation or cap)
                out[name]["limit"] = int(info["limit"])
        return out

    @staticmethod
    def peak_of(memory: dict[str, Any]) -> int | None:
        """The largest peak in one `read()` result."""
        if "cpu_rss_peak" in memory:
            return int(memory["cpu_rss_peak"])
        peaks = [v["peak"] for v in memory.values() if isinstance(v, dict) and "peak" in v]
        return max(peaks) if peaks else None


def _safe(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except Exception:  # a backend whose devices cannot be listed gives no readings, not an error
        return None
