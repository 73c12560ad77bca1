"""Per-step memory readings, for the built-in trainer and the script hook alike.

Stdlib only (TensorFlow, Keras and JAX are taken from `sys.modules` when the
process already imported them), so the script hook can load this file by path
into a Python that has no memtui installed.
"""

from __future__ import annotations

import os
import resource
import sys
from typing import Any

from .backends.jax import device_name as jax_device_name


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


def _jax_stats(device: Any) -> dict[str, int] | None:
    """`{"current", "peak"}` (and `limit` when known) from the device's own
    allocator statistics; None where the platform keeps none (JAX's CPU)."""
    stats = device.memory_stats()
    if not stats or "bytes_in_use" not in stats:
        return None
    out = {"current": int(stats["bytes_in_use"]),
           "peak": int(stats.get("peak_bytes_in_use", stats["bytes_in_use"]))}
    if stats.get("bytes_limit"):
        out["limit"] = int(stats["bytes_limit"])
    return out


class MemoryReader:
    """Per-step memory: the backend's allocator stats per GPU (TensorFlow's
    `get_memory_info`, JAX's `Device.memory_stats()`), else this process's RSS
    (neither has stats for the CPU, and a process on another backend has
    none at all). Make it after the backend started its devices."""

    def __init__(self) -> None:
        tf = sys.modules.get("tensorflow")
        jax = sys.modules.get("jax")
        self._get: Any = None
        self._gpus: list[str] = []
        backend = keras_backend()
        if jax is not None and backend in ("jax", None):
            devices = {jax_device_name(d): d for d in jax.local_devices() if d.platform != "cpu"}
            readable = {name: d for name, d in devices.items() if _safe(_jax_stats, d) is not None}
            if readable:
                self._gpus = list(readable)
                self._get = lambda name: _jax_stats(readable[name])
                return
        # On the JAX backend TensorFlow (there for tf.data) must not be asked:
        # listing its GPUs would start its runtime on them beside JAX's.
        if tf is not None and backend != "jax":
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


def _safe(read: Any, device: Any) -> Any:
    try:
        return read(device)
    except Exception:  # a platform without statistics may raise instead of returning None
        return None
