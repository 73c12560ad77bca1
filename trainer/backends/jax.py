"""Keras 3 on JAX: its memory variables, its out-of-memory errors, its devices.

JAX's memory controls are environment variables read when its GPU client is
created (the first use of a device, after `import jax`):

- memory growth is no preallocation: XLA_PYTHON_CLIENT_PREALLOCATE=false
  (without it JAX reserves 75% of the GPU at start);
- a cap is a fraction of each GPU's total memory:
  XLA_PYTHON_CLIENT_MEM_FRACTION (jaxlib 0.10 also reads the newer
  XLA_CLIENT_MEM_FRACTION and refuses both at once, so an already set new
  name is the one overridden).

Stdlib only: JAX is taken from `sys.modules` once the process imported it.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections.abc import Callable, Mapping
from typing import Any

NAME = "jax"
PREALLOCATE = "XLA_PYTHON_CLIENT_PREALLOCATE"
MEM_FRACTION = "XLA_PYTHON_CLIENT_MEM_FRACTION"
NEW_MEM_FRACTION = "XLA_CLIENT_MEM_FRACTION"
ENV = (PREALLOCATE, MEM_FRACTION, NEW_MEM_FRACTION, "XLA_PYTHON_CLIENT_ALLOCATOR", "XLA_FLAGS")
JAX_ENV = ENV  # the name the trainer and the hook used before the backends had one module each
MIN_FRACTION = 0.01


def missing() -> str | None:
    """Why Keras cannot run on JAX in this Python, in one line (None: it can)."""
    if importlib.util.find_spec("jax") is None:
        return ("--backend jax: JAX is not installed in this Python; pip install 'memtui[jax]' "
                "(or a jax[cuda12] wheel for an NVIDIA GPU)")
    return None


def memory_fraction(cap_mb: int, total_bytes: int | None) -> float | None:
    """`cap_mb` as a fraction of a GPU of `total_bytes`, rounded down to three
    decimals (never above the cap), at least 0.01 and at most 1; None when the
    total is unknown."""
    if total_bytes is None or total_bytes <= 0:
        return None
    fraction = int(cap_mb * 1024 * 1024 * 1000 / total_bytes) / 1000
    return min(1.0, max(MIN_FRACTION, fraction))


def memory_env(memory_growth: bool, gpu_memory_limit: int | None, gpu_total: int | None,
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


jax_memory_env = memory_env  # the older name, kept for the trainer's callers


def growth_on(environ: Mapping[str, str]) -> bool:
    return environ.get(PREALLOCATE) == "false"


def device_name(device: Any) -> str:
    """`GPU:0` for a CUDA or ROCm device (as TensorFlow names it), `TPU:0`, `CPU:0`."""
    platform = "GPU" if device.platform in ("gpu", "cuda", "rocm") else str(device.platform).upper()
    return f"{platform}:{device.id}"


def is_oom_exception(exc: BaseException) -> bool:
    """JAX raises its runtime's errors (JaxRuntimeError, XlaRuntimeError) with XLA's words."""
    return type(exc).__module__.split(".")[0] in ("jax", "jaxlib") and "RESOURCE_EXHAUSTED" in str(exc)


def step_device() -> str | None:
    """Where a step ran ("GPU:0", "CPU:0"): JAX's out-of-memory texts do not say."""
    jax = sys.modules.get("jax")
    if jax is None:
        return None
    try:
        return device_name(jax.local_devices()[0])
    except Exception:  # the backend may not have started
        return None


def describe_devices() -> list[dict[str, Any]]:
    jax = sys.modules.get("jax")
    if jax is None:
        return []
    return [{"name": device_name(d), "type": device_name(d).split(":")[0], "kind": str(d.device_kind)}
            for d in jax.local_devices()]


def memory_stats(device: Any) -> dict[str, int] | None:
    """`{"current", "peak"}` (and `limit`, the allocator's pool: its preallocation or
    cap) from the device's own allocator statistics; None where the platform keeps
    none (JAX's CPU)."""
    stats = device.memory_stats()
    if not stats or "bytes_in_use" not in stats:
        return None
    out = {"current": int(stats["bytes_in_use"]),
           "peak": int(stats.get("peak_bytes_in_use", stats["bytes_in_use"]))}
    if stats.get("bytes_limit"):
        out["limit"] = int(stats["bytes_limit"])
    return out


def gpu_memory_readers() -> dict[str, Callable[[], Mapping[str, int] | None]]:
    """Per accelerator (`GPU:0`) whose allocator keeps statistics, a reader of them."""
    jax = sys.modules.get("jax")
    if jax is None:
        return {}
    readers: dict[str, Callable[[], Mapping[str, int] | None]] = {}
    for device in jax.local_devices():
        if device.platform == "cpu":
            continue
        try:
            readable = memory_stats(device) is not None
        except Exception:  # a platform without statistics, or a device gone
            readable = False
        if readable:
            readers[device_name(device)] = functools.partial(memory_stats, device)
    return readers


def version() -> dict[str, str]:
    jax = sys.modules.get("jax")
    return {"jax_version": str(jax.__version__)} if jax is not None else {}
