"""Telemetry sampled in a daemon thread at a fixed interval.

Readers (the screen, the headless runner) only ever look at `latest` and
`history`, which are immutable snapshots: nothing on an event loop waits for
NVML or psutil. `on_snapshot` is called from the sampler thread; a Textual app
hands it on with `call_from_thread` or a message.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from trainer.config import ConfigError
from tui.telemetry.snapshot import HostMemory, Snapshot

# The readers (psutil, NVML) are imported where a sampler is made, not with this
# module: the CLI imports it for the interval's bounds before the screen's first
# frame, which needs neither (bench/startup.py).

MIN_INTERVAL = 0.25  # NVML utilisation is averaged over 1/6-1 s: faster polling adds cost, not information
DEFAULT_INTERVAL = 1.0


class Reader(Protocol):
    def read(self) -> Snapshot: ...
    def set_run(self, root_pid: int | None, baseline: Snapshot | None = None,
                run_dir: Path | None = None) -> None: ...
    def take_baseline(self) -> Snapshot: ...
    def close(self) -> None: ...


def check_interval(value: float) -> float:
    """The sampling interval in seconds, or a ConfigError line saying what to give instead."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"--interval: {value!r} is not a number of seconds; use 0.25 seconds or more")
    if value < MIN_INTERVAL:
        raise ConfigError(f"--interval: {value:g} is too short; use {MIN_INTERVAL:g} seconds or more")
    return float(value)


class Sampler:
    def __init__(
        self,
        interval: float = DEFAULT_INTERVAL,
        reader: Reader | None = None,
        history_seconds: float = 600,
        on_snapshot: Callable[[Snapshot], None] | None = None,
    ) -> None:
        self.interval = check_interval(interval)
        if reader is None:
            from tui.telemetry.reader import TelemetryReader

            reader = TelemetryReader()
        self._reader: Reader = reader
        self._history: deque[Snapshot] = deque(maxlen=max(1, math.ceil(history_seconds / self.interval)))
        self._on_snapshot = on_snapshot
        self._latest: Snapshot | None = None
        self._stored = 0  # snapshots stored so far, for `since`
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.callback_error: BaseException | None = None  # the last exception from on_snapshot

    # --- what readers see ----------------------------------------------------
    @property
    def latest(self) -> Snapshot | None:
        return self._latest

    @property
    def history(self) -> tuple[Snapshot, ...]:
        with self._lock:
            return tuple(self._history)

    def since(self, count: int) -> tuple[list[Snapshot], int]:
        """The snapshots stored after the first `count`, oldest first (those still in
        the history), and the count to ask with next time. Lets a screen take
        them on its own tick instead of being woken for each."""
        with self._lock:
            new = min(self._stored - count, len(self._history))
            return (list(self._history)[len(self._history) - new:] if new > 0 else []), self._stored

    @property
    def native_thread_id(self) -> int | None:
        """The sampling thread's OS id (for measuring its CPU cost), None when not running."""
        return self._thread.native_id if self._thread is not None else None

    # --- control -------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._wake.clear()  # the first reading is taken at once anyway
        self._thread = threading.Thread(target=self._run, name="memtui-telemetry", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._reader.close()

    def wake(self) -> None:
        """Take the next reading now instead of at the next tick."""
        self._wake.set()

    def set_run(self, root_pid: int | None, baseline: Snapshot | None = None, run_dir: Path | None = None) -> None:
        """Which process tree is the run (None: none); resets the set of new pids. `run_dir`:
        where the readings of a group's workers on other hosts arrive (--hosts)."""
        self._reader.set_run(root_pid, baseline, run_dir)
        self.wake()

    def take_baseline(self) -> Snapshot:
        """A reading right before a launch, taken in the caller's thread."""
        snapshot = self._reader.take_baseline()
        self._store(snapshot)
        return snapshot

    # --- the thread ----------------------------------------------------------
    def sample_now(self) -> Snapshot:
        """One reading in the caller's thread, stored like a tick's."""
        try:
            snapshot = self._reader.read()
        except Exception as exc:  # a reader bug must not end telemetry: show it and keep sampling
            snapshot = _failed_snapshot(exc)
        self._store(snapshot)
        return snapshot

    def _store(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._history.append(snapshot)
            self._latest = snapshot
            self._stored += 1
        if self._on_snapshot is not None:
            try:
                self._on_snapshot(snapshot)
            except Exception as exc:  # e.g. the app is shutting down; the next tick tries again
                self.callback_error = exc

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            self.sample_now()
            next_tick += self.interval
            now = time.monotonic()
            if next_tick < now:  # fell behind (a suspended laptop, a slow NVML call): skip, do not burst
                next_tick = now + self.interval
            if self._wake.wait(next_tick - now):
                self._wake.clear()
                next_tick = time.monotonic()


def _failed_snapshot(exc: Exception) -> Snapshot:
    try:
        from tui.telemetry.host import read_host_memory

        host = read_host_memory()
    except Exception:
        host = HostMemory(0, 0, 0, 0)
    return Snapshot(
        t=time.time(), gpus=(), host=host, trainer=None, gpu_status="error",
        gpu_message=f"telemetry failed: {exc!r}", errors=(f"telemetry failed: {exc!r}",),
    )


def read_once(run_pid: int | None = None) -> Snapshot:
    """One reading for one-shot use (`memtui status`), with its own NVML session."""
    from tui.telemetry.reader import TelemetryReader

    reader = TelemetryReader()
    try:
        if run_pid is not None:
            reader.set_run(run_pid)
        return reader.read()
    finally:
        reader.close()
