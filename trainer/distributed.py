"""More than one training process on one host: what each worker is told, and its files.

memtui's reaper starts N copies of the trainer (or of the user's command) as
one group. Each learns its place from the environment that Keras'
`keras.distribution.initialize()` reads: the coordinator's address (rank 0's
host and a free port), the number of processes and its own process id. The
gradients, collectives and rendezvous are JAX's; this module only names them.

Standard library only: the reaper imports it and must start fast, and the
script hook may load it by path.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

JOB_ADDRESSES = "KERAS_DISTRIBUTION_JOB_ADDRESSES"
NUM_PROCESSES = "KERAS_DISTRIBUTION_NUM_PROCESSES"
PROCESS_ID = "KERAS_DISTRIBUTION_PROCESS_ID"
# JAX's cross-process collectives on CPU: without them a CPU all-reduce between
# two processes is not possible (measured with JAX 0.10.2). A JAX config option,
# set for the workers only, through the variable JAX reads it from.
CPU_COLLECTIVES = "JAX_CPU_COLLECTIVES_IMPLEMENTATION"
CPU_COLLECTIVES_VALUE = "gloo"
VISIBLE_GPUS = "CUDA_VISIBLE_DEVICES"
WORKER_ENV = (JOB_ADDRESSES, NUM_PROCESSES, PROCESS_ID, CPU_COLLECTIVES, VISIBLE_GPUS)
MAX_WORKERS = 64

EVENTS_FILE = "events.jsonl"  # rank 0 writes the run's own events file (trainer/runfiles.py)
LOG_FILE = "trainer.log"


class WorkersError(ValueError):
    """A worker count that cannot run, in one line."""


@dataclass(frozen=True)
class Worker:
    """This process's place in the group."""

    rank: int
    world: int

    @property
    def leader(self) -> bool:
        """Rank 0: the one that writes what the run keeps (backups)."""
        return self.rank == 0


def events_name(rank: int) -> str:
    """Rank 0's events are the run's `events.jsonl`, so every reader of a
    one-process run reads a group's rank 0; rank k writes `events.rank{k}.jsonl`."""
    return EVENTS_FILE if rank == 0 else f"events.rank{rank}.jsonl"


def log_name(rank: int) -> str:
    """`trainer.log` for rank 0, `trainer.rank{k}.log` for rank k."""
    return LOG_FILE if rank == 0 else f"trainer.rank{rank}.log"


def per_worker_batch(global_batch: int, workers: int) -> int:
    """`--batch-size` is the global batch; each worker feeds its share of it."""
    if workers < 1:
        raise WorkersError(f"--workers: {workers} is not a worker count; use 1 to {MAX_WORKERS}")
    if global_batch % workers:
        lower = global_batch - global_batch % workers
        raise WorkersError(
            f"--batch-size {global_batch} is the global batch and cannot be split evenly over {workers} "
            f"workers; use a multiple of {workers}, e.g. --batch-size {max(lower, workers)}")
    return global_batch // workers


def this_worker(environ: Mapping[str, str] | None = None) -> Worker | None:
    """The rank and world size memtui gave this process (None: not one of a group)."""
    env = os.environ if environ is None else environ
    try:
        world = int(env.get(NUM_PROCESSES, ""))
        rank = int(env.get(PROCESS_ID, ""))
    except ValueError:
        return None
    if world < 2 or not 0 <= rank < world:
        return None
    return Worker(rank, world)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now, for the coordinator. The kernel picks it;
    another process could take it before rank 0 binds it, which JAX reports in
    rank 0's log (a bind error), and the group ends with that as its verdict."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def gpu_ids(environ: Mapping[str, str]) -> list[str] | None:
    """The GPUs this host lets us use: CUDA_VISIBLE_DEVICES when set, else the
    NVIDIA device nodes; None on a host without GPUs."""
    visible = environ.get(VISIBLE_GPUS)
    if visible is not None:
        ids = [v.strip() for v in visible.split(",") if v.strip() and v.strip() != "-1"]
        return ids or None
    try:
        nodes = sorted(int(n[len("nvidia"):]) for n in os.listdir("/dev")
                       if n.startswith("nvidia") and n[len("nvidia"):].isdigit())
    except OSError:
        return None
    return [str(n) for n in nodes] or None


def worker_env(rank: int, world: int, address: str, gpus: list[str] | None) -> dict[str, str]:
    """The variables rank `rank` of `world` gets on top of the run's environment.

    On a GPU host each worker sees one GPU (round robin over the visible ones);
    on a CPU host JAX's CPU collectives are switched on."""
    env = {JOB_ADDRESSES: address, NUM_PROCESSES: str(world), PROCESS_ID: str(rank)}
    if gpus:
        env[VISIBLE_GPUS] = gpus[rank % len(gpus)]
    else:
        env[CPU_COLLECTIVES] = CPU_COLLECTIVES_VALUE
    return env
