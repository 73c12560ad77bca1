"""Immutable telemetry snapshots handed from the sampler thread to readers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GpuProcess:
    """A process holding memory on a GPU. `used_bytes` is None when NVML cannot tell."""

    pid: int
    name: str
    user: str
    used_bytes: int | None
    is_run: bool  # belongs to the run memtui launched


@dataclass(frozen=True)
class GpuDevice:
    index: int
    name: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    reserved_bytes: int  # driver-reserved (v2 struct); 0 when unknown
    utilization_percent: int | None
    run_bytes: int | None  # this run's share; None when it cannot be attributed
    other_bytes: int | None  # other processes' share
    processes: tuple[GpuProcess, ...] = ()
    attribution: str = "pid"  # "pid" | "new-pids" | "baseline" | "none"
    lost: bool = False  # the GPU fell off the bus mid-run
    problem: str | None = None  # words for a per-device query problem


@dataclass(frozen=True)
class HostMemory:
    total_bytes: int
    available_bytes: int
    swap_total_bytes: int
    swap_used_bytes: int

    @property
    def used_bytes(self) -> int:
        return self.total_bytes - self.available_bytes


@dataclass(frozen=True)
class WorkerUsage:
    """One worker of a group (`--workers N`): its rank, pid and resident memory.

    A worker on another host (--hosts) comes with its host's name and, from its
    agent, the device its memory is on: `device` ("GPU0", "CPU"), `used_bytes`
    on it and the device's `total_bytes`."""

    rank: int
    pid: int
    rss_bytes: int
    host: str = ""
    device: str = ""
    used_bytes: int | None = None
    total_bytes: int | None = None


@dataclass(frozen=True)
class TrainerUsage:
    """The trainer's whole process tree."""

    pids: tuple[int, ...]
    rss_bytes: int
    cpu_percent: float
    workers: tuple[WorkerUsage, ...] = ()  # a group's workers by rank; empty for one process


@dataclass(frozen=True)
class Snapshot:
    t: float  # unix time
    gpus: tuple[GpuDevice, ...]
    host: HostMemory
    trainer: TrainerUsage | None  # None when no run is live
    gpu_status: str  # "ok" | "no-driver" | "driver-not-loaded" | "version-mismatch" | "no-permission" | "error"
    gpu_message: str | None = None  # the words for gpu_status, with the fix
    errors: tuple[str, ...] = field(default=())
