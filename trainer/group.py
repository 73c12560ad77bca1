"""The built-in trainer as one worker of a group (`--workers N`, Keras 3 on JAX).

`join` runs before Keras computes anything: `keras.distribution.initialize()`
reads the coordinator, the process count and this process's id from the
variables memtui's reaper set (trainer/distributed.py), and JAX's distributed
runtime connects the workers. Then `DataParallel` over every device of every
process: the weights are replicated, each process feeds its share of the
global batch (its own slice of the files, at the per-worker batch), and JAX
puts the shares together into one global batch per step
(`jax.make_array_from_process_local_data`), so every rank sees the same loss.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras

from trainer.distributed import Worker

STOP_FILE = "stop.at"  # rank 0: the step at which every worker stops (a stop asked for)
STOP_MARGIN = 2  # steps ahead of rank 0's own: JAX's asynchronous dispatch lets a worker's Python run ahead


class GroupStop:
    """A stop asked for (SIGINT/SIGTERM to the group) ends every worker after the same step.

    Each worker gets the signal on its own, at a different point of its step; a
    worker that stopped one step before the others would leave them waiting in
    that step's all-reduce, and rank 0's backup (a collective on JAX) would never
    complete. So rank 0 names the step, a little ahead, in RUN/stop.at; each
    worker, once asked, reads it at its next batches and stops when it gets there."""

    def __init__(self, run_dir: Path, worker: Worker) -> None:
        self.path = Path(run_dir) / STOP_FILE
        self.worker = worker
        self.asked = False
        self.at: int | None = None

    def ask(self, steps_begun: int) -> None:
        self.asked = True
        if self.worker.leader and self.at is None:
            self.at = steps_begun + STOP_MARGIN
            tmp = self.path.with_name(f".{STOP_FILE}.tmp")
            tmp.write_text(f"{self.at}\n", encoding="ascii")
            os.replace(tmp, self.path)

    def due(self, steps_begun: int) -> bool:
        if not self.asked:
            return False
        if self.at is None:
            try:
                self.at = int(self.path.read_text(encoding="ascii"))
            except (OSError, ValueError):
                return False  # rank 0 has not named it yet
        return steps_begun >= self.at


def join(worker: Worker) -> None:
    """Connect to the group, then train data-parallel over all its devices."""
    keras.distribution.initialize()
    devices = keras.distribution.list_devices()
    # auto_shard_dataset=False: each process already feeds only its share (trainer/run.py).
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False))


def global_devices() -> int:
    return len(keras.distribution.list_devices())


def share(indices: list[int], worker: Worker | None) -> list[int]:
    """This worker's files: every world-th one from its rank (all of them for one process)."""
    return indices if worker is None else indices[worker.rank::worker.world]


def even_share(indices: list[int], worker: Worker | None) -> list[int]:
    """Validation files cut to the same count on every worker: a worker with one
    batch more than the others would wait in a collective for ever."""
    if worker is None:
        return indices
    each = len(indices) // worker.world
    return indices[worker.rank * each:(worker.rank + 1) * each]


def describe(worker: Worker | None, cfg: Any) -> dict[str, Any]:
    """run_start's fields for the group (world size 1 for one process)."""
    if worker is None:
        return {"world_size": 1, "rank": 0, "per_worker_batch": cfg.batch_size}
    return {"world_size": worker.world, "rank": worker.rank, "per_worker_batch": cfg.worker_batch,
            "global_devices": global_devices()}
