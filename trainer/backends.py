"""Keras 3 backends: the environment each needs before it starts.

Keras picks its backend from KERAS_BACKEND when `keras` is first imported, so
the built-in trainer sets it before any import (trainer.memory.prepare_environment)
and a warm spare is only ever handed an attempt of its own backend.

JAX's memory controls are environment variables read when its GPU client is
created (the first use of a device, after `import jax`):

- memory growth is no preallocation: XLA_PYTHON_CLIENT_PREALLOCATE=false
  (without it JAX reserves 75% of the GPU at start);
- a cap is a fraction of each GPU's total memory:
  XLA_PYTHON_CLIENT_MEM_FRACTION (jaxlib 0.10 also reads the newer
  XLA_CLIENT_MEM_FRACTION and refuses both at once, so an already set new
  name is the one overridden).

Stdlib only: the script hook loads this file by path into the user's Python.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from collections.abc import Mapping

KERAS_BACKEND = "KERAS_BACKEND"
PREALLOCATE = "XLA_PYTHON_CLIENT_PREALLOCATE"
MEM_FRACTION = "XLA_PYTHON_CLIENT_MEM_FRACTION"
NEW_MEM_FRACTION = "XLA_CLIENT_MEM_FRACTION"
JAX_ENV = (PREALLOCATE, MEM_FRACTION, NEW_MEM_FRACTION, "XLA_PYTHON_CLIENT_ALLOCATOR", "XLA_FLAGS")
MIN_FRACTION = 0.01


def missing(backend: str) -> str | None:
    """Why `--backend` cannot run in this Python, in one line (None: it can).
    Looks for the package without importing it."""
    if backend == "jax" and importlib.util.find_spec("jax") is None:
        return ("--backend jax: JAX is not installed in this Python; pip install 'memtui[jax]' "
                "(or a jax[cuda12] wheel for an NVIDIA GPU)")
    return None


def keep_jax_out() -> None:
    """Make `import jax` fail in this process (for the TensorFlow backend; call
    before `import tensorflow`).

    TensorFlow's TFLite helpers (tensorflow/lite/python/util.py) import JAX
    whenever it is installed (`from jax import jit`, for a converter the
    trainer never uses). Measured with jax 0.10 and TF 2.21 on the 2-core
    machine: +270 MB of address space and +0.5 s at `import tensorflow`, which
    moved the host-limit OOM recipes. TensorFlow catches the ImportError."""
    if "jax" not in sys.modules:
        sys.modules["jax"] = None  # type: ignore[assignment]


def memory_fraction(cap_mb: int, total_bytes: int | None) -> float | None:
    """`cap_mb` as a fraction of a GPU of `total_bytes`, rounded down to three
    decimals (never above the cap), at least 0.01 and at most 1; None when the
    total is unknown."""
    if total_bytes is None or total_bytes <= 0:
        return None
    fraction = int(cap_mb * 1024 * 1024 * 1000 / total_bytes) / 1000
    return min(1.0, max(MIN_FRACTION, fraction))


def jax_memory_env(memory_growth: bool, gpu_memory_limit: int | None, gpu_total: int | None,
                   environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """The variables that give JAX memory growth or the cap (to set before its
    GPU client starts), and notes in words for what could not be done."""
    env: dict[str, str] = {}
    notes: list[str] = []
    if memory_growth:
        env[PREALLOCATE] = "false"
    if gpu_memory_limit is not None:
        fraction = memory_fraction(gpu_memory_limit, gpu_total)
        if fraction is None:
            notes.append(f"no GPU found: the {gpu_memory_limit} MB GPU memory cap has nothing to act on "
                         f"(on JAX it is {MEM_FRACTION}, a fraction of the GPU's total memory)")
        else:
            name = NEW_MEM_FRACTION if NEW_MEM_FRACTION in environ else MEM_FRACTION
            env[name] = f"{fraction:.3f}"
            total_mb = gpu_total // (1024 * 1024) if gpu_total else 0
            notes.append(f"GPU memory cap {gpu_memory_limit} MB of {total_mb} MB: {name}={fraction:.3f}")
    return env, notes


class _Memory(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]


def gpu_total_bytes(environ: Mapping[str, str] | None = None) -> int | None:
    """The smallest total memory among the visible NVIDIA GPUs (JAX applies one
    fraction to each), from the driver's NVML library; None without a GPU.
    Creates no CUDA context, so it is safe before the backend starts."""
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
