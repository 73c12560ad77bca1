"""The built-in scenario of `memtui demo oom`: a run that really runs out of memory.

On a CPU-only host the trainer's address space is limited (`--host-memory-limit`,
RLIMIT_AS) below what the first batch needs; on a GPU host TensorFlow is capped
(`--gpu-memory-limit`) below it. Half the batch fits in both, so `b` (or
auto-recovery) ends in a finished run.

Measured on the project's 2-core, 24 GiB CPU machine (TensorFlow 2.21, oneDNN
off as under every host limit), the built-in demo at 128x128 px, small CNN:
the address space peaks at about 2.3 GB plus 4.4 MB per example, so under
4096 MB batch 256 fits (3.4 GB) and batch 512 aborts with `std::bad_alloc` in
its first step, about 6 s after launch (5 of them importing TensorFlow); the
halved run's 2 epochs of 2 steps take about 10-20 s (the first step includes
start-up; other work on the cores slows it). The address space also holds
every thread's stack and malloc arena, which grow with the core count: the
limit adds 64 MB per core beyond two, a guess that was not measured elsewhere.
The GPU numbers follow the analytic estimate (tui/kinds/estimate.py: about
19 MB per example at 256 px): batch 256 needs about 4.8 GB under a 3072 MB cap,
batch 128 about 2.5 GB; they were not measured on a GPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from trainer.config import RunConfig

SCENARIOS = ("oom",)

CPU_LIMIT_MB = 4096
CPU_LIMIT_PER_EXTRA_CORE_MB = 64
CPU_IMAGE_SIZE = 128
CPU_BATCH = 512
GPU_CAP_MB = 3072
GPU_IMAGE_SIZE = 256
GPU_BATCH = 256
EPOCHS = 2
STEPS_PER_EPOCH = 2


@dataclass(frozen=True)
class Scenario:
    config: RunConfig
    story: str  # one line for the person who asked for the demo


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def oom_scenario(has_gpu: bool, core_count: int | None = None) -> Scenario:
    """The config whose first attempt runs out of memory, and the line that says so."""
    # One prefetched batch, not AUTOTUNE's several: a short run then ends at once.
    base = RunConfig(epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH, model="small", prefetch=1)
    if has_gpu:
        config = base.replace(image_size=GPU_IMAGE_SIZE, batch_size=GPU_BATCH, gpu_memory_limit=GPU_CAP_MB)
        where = f"TensorFlow capped at {GPU_CAP_MB} MB of GPU memory (--gpu-memory-limit)"
    else:
        extra = max(0, (core_count or cores()) - 2) * CPU_LIMIT_PER_EXTRA_CORE_MB
        config = base.replace(image_size=CPU_IMAGE_SIZE, batch_size=CPU_BATCH, host_memory_limit=CPU_LIMIT_MB + extra)
        where = f"the trainer limited to {config.host_memory_limit} MB of address space (--host-memory-limit)"
    story = (f"demo: batch {config.batch_size} at {config.image_size}x{config.image_size} px with {where} "
             f"cannot fit, so attempt 1 runs out of memory for real; press b to halve the batch "
             f"(or A for automatic recovery) and watch it finish")
    return Scenario(config, story)
