"""Keras 3 on TensorFlow: its memory variables, its out-of-memory errors, its devices.

Memory growth is TF_FORCE_GPU_ALLOW_GROWTH=true (exactly lower-case `true`;
it overrides the code's own setting); the per-GPU cap needs TensorFlow loaded
(`set_logical_device_configuration`, before the GPU starts), so it is applied
in-process by the trainer and the script hook.

Stdlib only: TensorFlow is taken from `sys.modules` once the process imported it.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from typing import Any

NAME = "tensorflow"
GROWTH = "TF_FORCE_GPU_ALLOW_GROWTH"
ENV = (GROWTH, "TF_GPU_ALLOCATOR")


def missing() -> str | None:
    return None  # memtui depends on TensorFlow: it is there wherever memtui is


def memory_env(memory_growth: bool, gpu_memory_limit: int | None, gpu_total: int | None,
               environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Growth from outside; the cap is not a variable (see the module's words)."""
    return ({GROWTH: "true"} if memory_growth else {}), []


def growth_on(environ: Mapping[str, str]) -> bool:
    return environ.get(GROWTH) == "true"


def is_oom_exception(exc: BaseException) -> bool:
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(exc, tf.errors.ResourceExhaustedError)


def step_device() -> str | None:
    return None  # TensorFlow's out-of-memory texts name their device and allocator


def describe_devices() -> list[dict[str, Any]]:
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return []
    out: list[dict[str, Any]] = []
    for dev in tf.config.list_physical_devices():
        entry: dict[str, Any] = {"name": dev.name, "type": dev.device_type}
        if dev.device_type == "GPU":
            try:
                details = tf.config.experimental.get_device_details(dev)
            except Exception:  # details are informative only; some drivers lack them
                details = {}
            entry.update({k: v for k, v in details.items() if isinstance(v, (str, int, float, tuple))})
        out.append(entry)
    return out


def gpu_memory_readers() -> dict[str, Callable[[], Mapping[str, int] | None]]:
    """Per logical GPU (`GPU:0`), a reader of TensorFlow's allocator: `{"current", "peak"}`."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return {}
    names = [d.name.replace("/device:", "").split("/")[-1] for d in tf.config.list_logical_devices("GPU")]
    return {name: functools.partial(tf.config.experimental.get_memory_info, name) for name in names}


def version() -> dict[str, str]:
    return {}  # tf_version is in every run_start: TensorFlow feeds the data on every backend
