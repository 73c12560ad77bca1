"""Per-step memory readings, for the built-in trainer and the script hook alike.

Stdlib only (TensorFlow is taken from `sys.modules` when the process already
imported it), so the script hook can load this file by path into a Python
that has no memtui installed.
"""

from __future__ import annotations

import os
import resource
import sys
from typing import Any


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


class MemoryReader:
    """Per-step memory: TensorFlow's allocator stats per GPU, else this
    process's RSS (the allocator has no stats for CPU:0, and a process on
    another backend has no TensorFlow at all)."""

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
        """The largest peak in one `read()` result."""
        if "cpu_rss_peak" in memory:
            return int(memory["cpu_rss_peak"])
        peaks = [v["peak"] for v in memory.values() if isinstance(v, dict) and "peak" in v]
        return max(peaks) if peaks else None
