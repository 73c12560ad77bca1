"""Everything that must happen before TensorFlow touches a device.

GPU memory growth, the per-GPU cap, logical CPU devices and the precision
policy can only be set before the runtime initialises its devices, so
`apply_memory_settings` runs once, right after `import tensorflow` and before
any tensor, model or dataset exists. The host address-space limit is applied
even earlier, before TensorFlow is imported (see `limit_address_space`).
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field
from typing import Any

from trainer.config import RunConfig
from trainer.memreading import MemoryReader  # noqa: F401  (re-exported for trainer.run and trainer.events)


def limit_address_space(megabytes: int | None) -> None:
    """RLIMIT_AS for this process: allocations past it fail instead of the
    kernel's OOM killer taking the whole machine down. TensorFlow then raises
    ResourceExhaustedError (`... by allocator cpu`) or aborts with bad_alloc."""
    if megabytes is None:
        return
    limit = megabytes * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def prepare_environment(cfg: RunConfig) -> None:
    """Environment variables TensorFlow reads at import time."""
    # Keep TensorFlow's C++ start-up chatter out of the way; errors still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    if cfg.host_memory_limit is not None:
        # oneDNN's CPU kernels crash (SIGSEGV) when an allocation is denied;
        # TensorFlow's own kernels raise ResourceExhaustedError, which the
        # trainer can report and memtui can fix. Seen with TF 2.21 on CPU.
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if cfg.memory_growth:
        # Only lower-case true/false are accepted; this overrides code settings,
        # so it is set only when asked for.
        os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"


@dataclass
class DeviceSetup:
    """What was applied, for run_start."""

    gpus: list[str] = field(default_factory=list)
    memory_growth: bool = False
    gpu_memory_limit: int | None = None
    mixed_precision: bool = False
    cpu_devices: int = 1
    notes: list[str] = field(default_factory=list)


def apply_memory_settings(cfg: RunConfig) -> DeviceSetup:
    """Growth, caps, logical CPUs and the dtype policy; call before any tensor exists."""
    import keras
    import tensorflow as tf

    setup = DeviceSetup(mixed_precision=cfg.mixed_precision, cpu_devices=cfg.cpu_devices)
    gpus = tf.config.list_physical_devices("GPU")
    setup.gpus = [g.name for g in gpus]
    for gpu in gpus:
        if cfg.memory_growth:
            # Must be the same on every GPU, and set before any is initialised.
            tf.config.experimental.set_memory_growth(gpu, True)
        elif cfg.gpu_memory_limit is not None:
            tf.config.set_logical_device_configuration(
                gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=cfg.gpu_memory_limit)]
            )
    setup.memory_growth = bool(gpus) and cfg.memory_growth
    setup.gpu_memory_limit = cfg.gpu_memory_limit if gpus else None
    if not gpus and (cfg.memory_growth or cfg.gpu_memory_limit is not None):
        setup.notes.append("no GPU found: --memory-growth and --gpu-memory-limit have nothing to act on")
    if cfg.cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(cfg.cpu_devices)]
        )
    if cfg.mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")
    return setup


def make_strategy(cfg: RunConfig) -> Any:
    """MirroredStrategy over all GPUs, or over the logical CPUs on a CPU-only host."""
    import tensorflow as tf

    if cfg.strategy != "mirrored":
        return tf.distribute.get_strategy()
    if tf.config.list_logical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=cpus)


def describe_devices() -> list[dict[str, Any]]:
    """Physical devices with what TensorFlow knows about them."""
    import tensorflow as tf

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


