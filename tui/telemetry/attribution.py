"""Which GPU memory is this run's, and which belongs to other processes.

The first choice is by pid: NVML lists the processes on each device and the
run is the trainer's process tree. Inside a container NVML reports host pids
that match nothing here; then the run is the processes that appeared on the
device after launch ("new-pids"), or, when NVML cannot list processes or
their memory, the device's used memory minus what was used before launch
("baseline"). `GpuDevice.attribution` says which method gave the figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psutil

from tui.common.units import MIB
from tui.telemetry.nvml import DeviceReading
from tui.telemetry.snapshot import GpuDevice, GpuProcess, Snapshot

# Growth beyond this since launch, with no process listed, means NVML is hiding
# processes from us (some containers list none) rather than the run using nothing.
_HIDDEN_GROWTH = 64 * MIB


@dataclass(frozen=True)
class Baseline:
    """Per-device readings taken right before a launch."""

    used: dict[int, int] = field(default_factory=dict)
    pids: dict[int, frozenset[int]] = field(default_factory=dict)

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot) -> Baseline:
        return cls(
            used={g.index: g.used_bytes for g in snapshot.gpus if not g.lost},
            pids={g.index: frozenset(p.pid for p in g.processes) for g in snapshot.gpus if not g.lost},
        )


class ProcessNames:
    """Name and user of pids, cached while the pid stays on a GPU (names do not change)."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[str, str, bool]] = {}

    def describe(self, pid: int) -> tuple[str, str, bool]:
        """(name, user, visible here). A pid from another pid namespace is not visible."""
        found = self._cache.get(pid)
        if found is None:
            try:
                proc = psutil.Process(pid)
                with proc.oneshot():
                    name = proc.name()
                    try:
                        user = proc.username()
                    except (psutil.Error, KeyError):
                        user = str(proc.uids().real)
                found = (name, user, True)
            except psutil.Error:
                found = ("?", "?", False)
            self._cache[pid] = found
        return found

    def forget_except(self, keep: set[int]) -> None:
        for pid in [p for p in self._cache if p not in keep]:
            del self._cache[pid]


def attribute(
    reading: DeviceReading,
    run_pids: frozenset[int] | None,
    baseline: Baseline | None,
    names: ProcessNames,
) -> GpuDevice:
    """A `GpuDevice` with this run's share split out. `run_pids=None`: no run is live."""
    listed = reading.processes
    described = [(pid, used, *names.describe(pid)) for pid, used in (listed or ())]
    before_used = baseline.used.get(reading.index) if baseline is not None else None
    before_pids = baseline.pids.get(reading.index) if baseline is not None else None

    run_set: set[int] = set()
    method = "none"
    if run_pids is not None and listed is not None:
        if any(visible for *_, visible in described):
            method, run_set = "pid", {pid for pid, *_ in described if pid in run_pids}
        elif described and before_pids is not None:
            method, run_set = "new-pids", {pid for pid, *_ in described if pid not in before_pids}
        elif not described:
            hidden = before_used is not None and reading.used_bytes - before_used > _HIDDEN_GROWTH
            method = "none" if hidden else "pid"

    run_bytes: int | None = None
    if method in ("pid", "new-pids"):
        shares = [used for pid, used, *_ in described if pid in run_set]
        if None in shares:
            method = "none"  # listed, but NVML cannot say how much each holds
        else:
            run_bytes = sum(s for s in shares if s is not None)
    if run_pids is not None and method == "none" and before_used is not None:
        method, run_bytes = "baseline", max(0, reading.used_bytes - before_used)

    if reading.lost:
        other_bytes: int | None = None
    elif run_pids is None:
        other_bytes = reading.used_bytes
    elif run_bytes is None:
        other_bytes = None
    else:
        # Everything on the device that is not the run's: other processes and contexts nobody lists.
        other_bytes = max(0, reading.used_bytes - run_bytes)

    processes = tuple(
        GpuProcess(pid=pid, name=name, user=user, used_bytes=used, is_run=pid in run_set)
        for pid, used, name, user, _visible in described
    )
    return GpuDevice(
        index=reading.index,
        name=reading.name,
        total_bytes=reading.total_bytes,
        used_bytes=reading.used_bytes,
        free_bytes=reading.free_bytes,
        reserved_bytes=reading.reserved_bytes,
        utilization_percent=reading.utilization_percent,
        run_bytes=run_bytes,
        other_bytes=other_bytes,
        processes=processes,
        attribution=method,
        lost=reading.lost,
        problem=reading.problem,
    )
