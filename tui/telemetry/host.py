"""Host memory and the trainer's process tree, read with psutil.

The tree keeps its `psutil.Process` objects between samples: `cpu_percent`
needs the previous reading of the same object, and re-walking every process
on the machine each tick is the most expensive thing telemetry does, so the
full walk for new children happens only every few seconds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil

from trainer.distributed import PROCESS_ID
from tui.telemetry.snapshot import HostMemory, TrainerUsage, WorkerUsage


def read_host_memory() -> HostMemory:
    vm = psutil.virtual_memory()
    swap = psutil.swap_memory()
    return HostMemory(
        total_bytes=int(vm.total),
        available_bytes=int(vm.available),
        swap_total_bytes=int(swap.total),
        swap_used_bytes=int(swap.used),
    )


class ProcessTree:
    """The trainer (`root_pid`) and every descendant, sampled for RSS and CPU%."""

    def __init__(self, root_pid: int, rescan_every: float = 5.0, run_dir: Path | None = None) -> None:
        self.root_pid = root_pid
        self.run_dir = run_dir  # a group over SSH: its workers' readings arrive here (remote_workers)
        self.rescan_every = rescan_every
        self._procs: dict[int, psutil.Process] = {}
        self._ranks: dict[int, int] = {}  # pid -> its rank in a group, read at a scan (until found, at each)
        self._last_scan = -float("inf")
        try:
            self._root: psutil.Process | None = psutil.Process(root_pid)
        except psutil.Error:
            self._root = None

    @property
    def pids(self) -> frozenset[int]:
        """The pids seen at the last sample (the root included while it lives)."""
        return frozenset(self._procs)

    def alive(self) -> bool:
        return self._root is not None and self._root.is_running() and _not_zombie(self._root)

    def _rescan(self) -> None:
        assert self._root is not None
        try:
            found = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            found = [self._root]
        # Keep the objects we already hold so their cpu_percent history survives.
        self._procs = {p.pid: self._procs.get(p.pid, p) for p in found}
        # Read again until found: a child seen between fork and exec still has the reaper's environment.
        ranks = {pid: self._ranks[pid] if pid in self._ranks else _rank_of(proc) for pid, proc in self._procs.items()}
        self._ranks = {pid: rank for pid, rank in ranks.items() if rank is not None}
        self._last_scan = time.monotonic()

    def sample(self) -> TrainerUsage | None:
        """RSS and CPU% summed over the tree; None once the root has ended."""
        if not self.alive():
            self._procs = {}
            return None
        # A root alone is a reaper whose trainer is still starting: look for it at every
        # sample, or the first seconds would show the reaper's 12 MiB as the run's memory
        # (all a run that runs out of memory at start-up would ever show).
        if time.monotonic() - self._last_scan >= self.rescan_every or len(self._procs) < 2:
            self._rescan()
        rss = 0
        cpu = 0.0
        gone: list[int] = []
        workers: list[WorkerUsage] = []
        for pid, proc in self._procs.items():
            try:
                with proc.oneshot():
                    own = proc.memory_info().rss
                    rss += own
                    cpu += proc.cpu_percent(None)
                if (rank := self._ranks.get(pid)) is not None:
                    workers.append(WorkerUsage(rank, pid, int(own)))
            except psutil.Error:
                gone.append(pid)
        for pid in gone:
            del self._procs[pid]
        if not self._procs:
            return None
        if self.run_dir is not None and not workers:
            workers = remote_workers(self.run_dir)
        return TrainerUsage(pids=tuple(sorted(self._procs)), rss_bytes=int(rss), cpu_percent=round(cpu, 1),
                            workers=tuple(sorted(workers, key=lambda w: w.rank)) if len(workers) > 1 else ())


REMOTE_FRESH = 10.0  # seconds: an older reading is of a worker that has ended or lost its connection


def remote_workers(run_dir: Path, now: float | None = None) -> list[WorkerUsage]:
    """The latest reading of each worker on another host, as its agent sent it
    (tui/supervision/remote.py writes RUN/hostmem.rank{k}.json)."""
    now = time.time() if now is None else now
    out = []
    for path in run_dir.glob("hostmem.rank*.json"):
        try:
            if now - path.stat().st_mtime > REMOTE_FRESH:
                continue
            reading = json.loads(path.read_text(encoding="utf-8"))
            rank, pid, rss = int(reading["rank"]), int(reading.get("pid") or 0), int(reading.get("rss") or 0)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        gpus = [g for g in reading.get("gpus") or () if isinstance(g, dict) and g.get("own")]
        if gpus:
            gpu = gpus[0]
            out.append(WorkerUsage(rank, pid, rss, str(reading.get("host") or ""), f"GPU{gpu.get('index')}",
                                   int(gpu["own"]), int(gpu.get("total") or 0)))
        else:
            out.append(WorkerUsage(rank, pid, rss, str(reading.get("host") or ""), "CPU", rss,
                                   int(reading.get("host_total") or 0) or None))
    return sorted(out, key=lambda w: w.rank)


def _rank_of(proc: psutil.Process) -> int | None:
    """The rank memtui's reaper gave a worker of a group, from its environment (None: not a worker)."""
    try:
        value = proc.environ().get(PROCESS_ID)
    except psutil.Error:
        return None
    return int(value) if value is not None and value.isdigit() else None


def _not_zombie(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
