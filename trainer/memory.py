"""Everything that must happen before the backend touches a device.

GPU memory growth, the per-GPU cap, logical CPU devices and the precision
policy can only be set before the runtime initialises its devices, so
`apply_memory_settings` runs once, right after `import tensorflow` and before
any tensor, model or dataset exists. The host address-space limit is applied
even earlier, before TensorFlow is imported (see `limit_address_space`).

On the JAX backend (`--backend jax`) the Keras backend, memory growth and the
cap are environment variables (trainer.backends), set by
`prepare_environment` before anything is imported; TensorFlow still runs the
tf.data pipeline there, and is kept off the GPU so the GPU is JAX's alone.
"""

from __future__ import annotations

import ctypes
import os
import resource
from dataclasses import dataclass, field
from typing import Any

from trainer import backends
from trainer.backends.jax import device_name as jax_device_name
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


M_ARENA_MAX = -8  # glibc's mallopt parameter


def fewer_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas (as MALLOC_ARENA_MAX would) before threads start.

    Each thread that allocates may get an arena of its own, reserving 64 MiB
    of address space, up to eight per core; JAX's CPU thread pools make many
    threads, so under RLIMIT_AS the reservations, not the memory used, ran out
    first (seen here: about 800 MiB more address space for one JAX step, and
    std::bad_alloc aborts instead of exceptions). False where mallopt is missing."""
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


def prepare_environment(cfg: RunConfig) -> list[str]:
    """Environment variables TensorFlow, Keras and JAX read at import time (or,
    for JAX's memory, when its GPU client starts); notes in words for run_start."""
    # The flag decides, not an inherited KERAS_BACKEND: Keras reads it once, at import.
    os.environ[backends.KERAS_BACKEND] = cfg.backend
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
    if cfg.backend != "jax":
        backends.keep_jax_out()
        return []
    total = backends.gpu_total_bytes() if cfg.gpu_memory_limit is not None else None
    env, notes = backends.jax_memory_env(cfg.memory_growth, cfg.gpu_memory_limit, total, os.environ)
    os.environ.update(env)
    return notes


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

    if keras.backend.backend() != cfg.backend:  # a warm spare of another backend must never get here
        raise RuntimeError(f"--backend {cfg.backend}, but Keras was imported with the "
                           f"{keras.backend.backend()} backend")
    if cfg.backend == "jax":
        return _apply_jax_settings(cfg, keras, tf)
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


def _apply_jax_settings(cfg: RunConfig, keras: Any, tf: Any) -> DeviceSetup:
    """The JAX backend: growth and the cap were set as environment variables
    (prepare_environment); here TensorFlow, which only feeds the data, is kept
    off the GPU (else it would reserve GPU memory of its own), and the policy set."""
    import jax

    tf.config.set_visible_devices([], "GPU")
    setup = DeviceSetup(mixed_precision=cfg.mixed_precision, cpu_devices=1)
    setup.gpus = [jax_device_name(d) for d in jax.local_devices() if d.platform != "cpu"]
    setup.memory_growth = bool(setup.gpus) and cfg.memory_growth
    setup.gpu_memory_limit = cfg.gpu_memory_limit if setup.gpus else None
    if not setup.gpus and cfg.memory_growth:
        setup.notes.append("no GPU found: --memory-growth (XLA_PYTHON_CLIENT_PREALLOCATE=false) has nothing to "
                           "act on")
    if cfg.cpu_devices > 1:
        setup.notes.append("--cpu-devices is for TensorFlow's --strategy mirrored; the JAX backend ignores it")
    if cfg.mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")
    return setup


class _OneDevice:
    """The strategy of a JAX run: one device, no distribution (Keras places the step itself)."""

    num_replicas_in_sync = 1

    def scope(self) -> Any:
        import contextlib

        return contextlib.nullcontext()


def make_strategy(cfg: RunConfig) -> Any:
    """MirroredStrategy over all GPUs, or over the logical CPUs on a CPU-only host."""
    if cfg.backend == "jax":
        return _OneDevice()
    import tensorflow as tf

    if cfg.strategy != "mirrored":
        return tf.distribute.get_strategy()
    if tf.config.list_logical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=cpus)


def describe_devices(backend: str = "tensorflow") -> list[dict[str, Any]]:
    """Physical devices with what the backend knows about them."""
    if backend == "jax":
        import jax  # noqa: F401  (the backend module reads it from sys.modules)
    else:
        import tensorflow  # noqa: F401
    return backends.describe_devices(backend)
