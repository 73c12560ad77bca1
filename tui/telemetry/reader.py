"""One telemetry reading: NVML devices attributed to the run, host memory, the trainer's tree.

`TelemetryReader` holds the state that lasts between readings (the NVML session,
the trainer's process objects, the baseline from before launch) behind a lock,
so the sampler thread and a caller taking a baseline never interleave.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tui.telemetry.attribution import Baseline, ProcessNames, attribute
from tui.telemetry.host import ProcessTree, read_host_memory
from tui.telemetry.nvml import NvmlReader
from tui.telemetry.snapshot import Snapshot


class TelemetryReader:
    def __init__(self, nvml: NvmlReader | None = None) -> None:
        self._nvml = nvml or NvmlReader()
        self._names = ProcessNames()
        self._tree: ProcessTree | None = None
        self._baseline: Baseline | None = None
        self._pending_baseline: Baseline | None = None
        self._last: Snapshot | None = None
        self._lock = threading.Lock()

    def set_run(self, root_pid: int | None, baseline: Snapshot | None = None, run_dir: Path | None = None) -> None:
        """Watch the process tree rooted at `root_pid` as the run (None: no run).

        The "before launch" reference is `baseline` if given, else the one from
        the last `take_baseline()`, else the latest reading: pids already on a
        device then are never counted as the run's new pids.
        """
        with self._lock:
            if root_pid is None:
                self._tree, self._baseline, self._pending_baseline = None, None, None
                return
            self._tree = ProcessTree(root_pid, run_dir=run_dir)
            if baseline is not None:
                self._baseline = Baseline.from_snapshot(baseline)
            elif self._pending_baseline is not None:
                self._baseline = self._pending_baseline
            elif self._last is not None:
                self._baseline = Baseline.from_snapshot(self._last)
            else:
                self._baseline = None
            self._pending_baseline = None

    def take_baseline(self) -> Snapshot:
        """A reading right before a launch; the next `set_run` measures against it."""
        snapshot = self.read()
        with self._lock:
            self._pending_baseline = Baseline.from_snapshot(snapshot)
        return snapshot

    def read(self) -> Snapshot:
        with self._lock:
            t = time.time()
            readings = self._nvml.read()
            trainer = self._tree.sample() if self._tree is not None else None
            run_pids: frozenset[int] | None = None
            if self._tree is not None:
                run_pids = self._tree.pids or frozenset({self._tree.root_pid})
            gpus = tuple(attribute(r, run_pids, self._baseline, self._names) for r in readings)
            self._names.forget_except({p for r in readings for p, _ in (r.processes or ())})
            snapshot = Snapshot(
                t=t,
                gpus=gpus,
                host=read_host_memory(),
                trainer=trainer,
                gpu_status=self._nvml.status,
                gpu_message=self._nvml.message,
            )
            self._last = snapshot
            return snapshot

    def close(self) -> None:
        with self._lock:
            self._nvml.close()
