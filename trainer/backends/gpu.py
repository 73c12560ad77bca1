"""The visible NVIDIA GPUs' total memory, from the driver's NVML library.

Stdlib only (ctypes), and it creates no CUDA context, so it is safe before
any backend starts: JAX's cap is a fraction of this total.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Mapping


class _Memory(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]


def gpu_total_bytes(environ: Mapping[str, str] | None = None) -> int | None:
    """The smallest total memory among the visible NVIDIA GPUs (JAX applies one
    fraction to each); None without a GPU."""
    environ = os.environ if environ is None else environ
    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return None
    if nvml.nvmlInit_v2() != 0:
        return None
    try:
        count = ctypes.c_uint(0)
        if nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0:
            return None
        visible = environ.get("CUDA_VISIBLE_DEVICES")
        wanted: list[int | str] = list(range(count.value))
        if visible is not None:
            wanted = [int(v) if v.strip().isdigit() else v.strip() for v in visible.split(",") if v.strip()]
        totals = []
        for which in wanted:
            handle = ctypes.c_void_p()
            if isinstance(which, int):
                status = nvml.nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(which), ctypes.byref(handle))
            else:
                status = nvml.nvmlDeviceGetHandleByUUID(which.encode(), ctypes.byref(handle))
            memory = _Memory()
            if status == 0 and nvml.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(memory)) == 0:
                totals.append(int(memory.total))
        return min(totals) if totals else None
    except (AttributeError, ValueError):
        return None
    finally:
        nvml.nvmlShutdown()
