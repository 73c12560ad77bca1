"""Keras 3 backends, one module each: what memtui needs to know of a backend.

A backend module (`tensorflow`, `jax`) says, with the standard library only:
why it cannot run here (`missing`), the environment variables that carry
memory growth and the GPU cap before the backend starts (`memory_env`,
`growth_on`, `ENV`), whether an exception is its out-of-memory error
(`is_oom_exception`), where a step ran (`step_device`), its devices and
version. This package is the one place that asks them, for the built-in
trainer and the script hook alike: the hook loads it by path into the
user's Python (trainer/scripthook/boot/_memtui_hook/trainer_files.py), so
nothing here imports memtui by its package name. A new backend is a module
here plus its entry in `BACKENDS` (and its words on the monitor's side, one
entry in tui/common/backendwords.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from .. import oom
from . import jax, tensorflow
from .gpu import gpu_total_bytes
from .jax import JAX_ENV, MEM_FRACTION, NEW_MEM_FRACTION, PREALLOCATE, jax_memory_env, memory_fraction

__all__ = ["BACKENDS", "ENV_SHOWN", "JAX_ENV", "KERAS_BACKEND", "MEM_FRACTION", "NEW_MEM_FRACTION", "PREALLOCATE",
           "active", "describe_devices", "get", "gpu_total_bytes", "is_oom", "jax_memory_env", "keep_jax_out",
           "memory_env", "memory_fraction", "missing", "oom_fields"]

KERAS_BACKEND = "KERAS_BACKEND"
BACKENDS: dict[str, ModuleType] = {tensorflow.NAME: tensorflow, jax.NAME: jax}
# The memory settings a run_start shows as the process had them.
ENV_SHOWN = (KERAS_BACKEND, *(name for backend in BACKENDS.values() for name in backend.ENV))


def get(name: str) -> ModuleType:
    return BACKENDS[name]


def missing(name: str) -> str | None:
    """Why `--backend NAME` cannot run in this Python, in one line (None: it can)."""
    backend = BACKENDS.get(name)
    return f"--backend {name}: memtui knows no such backend" if backend is None else backend.missing()


def active() -> ModuleType | None:
    """The backend of the Keras this process imported (None before, or a backend memtui does not know)."""
    keras = sys.modules.get("keras")
    try:
        name = str(keras.backend.backend()) if keras is not None else os.environ.get(KERAS_BACKEND)
    except Exception:  # a half-imported or foreign `keras`
        return None
    return BACKENDS.get(name or "tensorflow")


def memory_env(name: str, memory_growth: bool, gpu_memory_limit: int | None, gpu_total: int | None,
               environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    return get(name).memory_env(memory_growth, gpu_memory_limit, gpu_total, environ)


def is_oom(exc: BaseException) -> bool:
    """One out-of-memory test for the trainer and the hook: Python's MemoryError,
    a backend's own error, or the words every backend's runtime uses."""
    if isinstance(exc, MemoryError):
        return True
    if any(backend.is_oom_exception(exc) for backend in BACKENDS.values()):
        return True
    return oom.is_oom_text(str(exc))


def oom_fields(exc: BaseException) -> dict[str, Any]:
    """The `oom` event's fields for an out-of-memory exception."""
    backend = active()
    device = backend.step_device() if backend is not None else None
    return {"exception": type(exc).__name__, **oom.parse_oom(str(exc), type(exc).__name__, device)}


def describe_devices(name: str | None = None) -> list[dict[str, Any]]:
    backend = get(name) if name else active()
    return backend.describe_devices() if backend is not None else []


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
