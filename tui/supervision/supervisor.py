"""The supervisor: launch, stop, relaunch, attach and detach training runs.

memtui starts `python -m tui.supervision.reaper RUN` in a new process session; the reaper
starts the trainer in the same group and records its exit. Because the run
lives in its own session, memtui can die, be detached or lose its terminal and
the run goes on; a later `attach` replays `RUN/events.jsonl` and follows it.

A relaunch (every launch after the first) goes to the warm spare when one is
ready (tui/supervision/spare.py): a reaper and trainer started ahead of time,
TensorFlow imported, no device touched. When one is prepared, and when there
is none, is `SpareKeeper`'s (tui/supervision/sparekeeper.py); an attempt that
cannot use the spare starts cold and a SupervisorProblem says why.

Everything the supervisor has to say goes to `sink` as frozen notices
(`tui.supervision.attempt`), in order. By default they come from one background dispatcher
thread, so a sink may block (the headless printer). A sink that never blocks
and may be called from any thread (the screen's `Handoff`) passes
`sink_blocks=False` and is called where the notice arises: one thread wake-up
less per trainer write, measurable at 20 writes a second.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainer.config import RunConfig
from tui.common.verdict import Verdict
from tui.kinds import kind_for
from tui.runs.folder import RunDir
from tui.runs.store import RunStore
from tui.supervision.attempt import (
    AttemptEnded,
    AttemptInfo,
    AttemptStarted,
    EventBatch,
    Notice,
    SupervisorProblem,
    now,
)
from tui.supervision.spare import Spare
from tui.supervision.sparekeeper import SpareKeeper
from tui.supervision.watch import REAPER_GRACE, Watched

__all__ = ["AttachError", "AttemptEnded", "AttemptInfo", "AttemptStarted", "EventBatch", "Notice", "Supervisor",
           "SupervisorProblem"]

MODULE_ENV = "MEMTUI_TRAINER_MODULE"


class AttachError(Exception):
    """Why a run cannot be attached, in one line."""


class Supervisor:
    def __init__(self, store: RunStore, *, session: str | None = None, trainer_module: str | None = None,
                 sink: Callable[[Notice], None], sink_blocks: bool = True, sampler: Any = None,
                 grace_int: float = 10.0, grace_term: float = 5.0, spare: bool = True,
                 spare_early: bool = False, spare_ready_timeout: float | None = None) -> None:
        self.store = store
        self.session = session or f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        self.trainer_module = trainer_module or os.environ.get(MODULE_ENV) or "trainer"
        self.sampler = sampler
        self.grace_int = grace_int
        self.grace_term = grace_term
        self._sink = sink
        self._current: Watched | None = None
        self._ended: list[AttemptInfo] = []
        self._launching = threading.Lock()
        self._queue: queue.SimpleQueue[Notice | None] = queue.SimpleQueue()
        self._dispatcher: threading.Thread | None = None
        self._emit_lock = threading.Lock()  # direct calls keep the order of their notices
        if sink_blocks:
            self._dispatcher = threading.Thread(target=self._dispatch, name="supervisor-notices", daemon=True)
            self._dispatcher.start()
        self._closed = False
        self.spares = SpareKeeper(store, self.trainer_module, self._emit, enabled=spare, early=spare_early,
                                  ready_seconds=spare_ready_timeout)
        self._launches = 0
        self._said_never_spare = False

    # --- notices ---------------------------------------------------------

    def _emit(self, notice: Notice) -> None:
        if isinstance(notice, AttemptEnded):
            self._ended.append(notice.attempt)
            self.spares.ended(notice, relaunching=self._launching.locked())
        elif isinstance(notice, EventBatch):
            self.spares.seen(notice)
        if self._dispatcher is not None:
            self._queue.put(notice)
            return
        with self._emit_lock:
            self._deliver(notice)

    def _deliver(self, notice: Notice) -> None:
        try:
            self._sink(notice)
        except Exception as exc:  # the listener's bug must not stop the notices
            print(f"memtui: a notice handler failed: {type(exc).__name__}: {exc}", file=sys.stderr)

    def _dispatch(self) -> None:
        while (notice := self._queue.get()) is not None:
            self._deliver(notice)

    # --- what is going on --------------------------------------------------

    @property
    def current(self) -> AttemptInfo | None:
        return self._current.info if self._current is not None else None

    @property
    def history(self) -> list[AttemptInfo]:
        """Every attempt of this session, oldest first, the current one last."""
        done = list(self._ended)
        cur = self._current
        if cur is not None and all(a.run_id != cur.info.run_id for a in done):
            done.append(cur.info)
        return done

    def _next_number(self) -> int:
        numbers = [a.number for a in self.history]
        return max(numbers, default=0) + 1

    # --- launch ----------------------------------------------------------

    def launch(self, config: RunConfig, reason: str = "launch") -> AttemptInfo:
        """Start a new attempt; a live one is stopped first and waited for. Blocks."""
        with self._launching:
            self._end_current()
            if config.backup_dir is None:
                config = config.replace(backup_dir=str(self.store.backup_dir(self.session)))
            baseline = self.sampler.take_baseline() if self.sampler is not None else None
            number = self._next_number()
            spare, cold = self.spares.claim(config, self._launches)
            run = None
            if spare is not None:
                try:
                    run = self.store.new_run(config, session=self.session, attempt=number, reason=reason,
                                             trainer_module=self.trainer_module, baseline=_jsonable(baseline),
                                             run_id=spare.run_path.name, spare=True, **kind_for(config).record(config))
                except FileExistsError:
                    spare.discard()
                    spare, cold = None, "the run id the spare had reserved was taken"
            if run is None:
                run = self.store.new_run(config, session=self.session, attempt=number, reason=reason,
                                         trainer_module=self.trainer_module, baseline=_jsonable(baseline),
                                         spare=False, cold_reason=cold, **kind_for(config).record(config))
            kind = kind_for(config)
            if (launch := kind.launch_spec(config, run.path, os.environ)) is not None:
                # The reaper starts what the kind launches instead of the trainer (say, the user's own command).
                run.update_meta(launch=launch)
            lock_fd = run.try_lock()
            if spare is not None:
                spare.hand_over()
                popen = spare.popen
            else:
                with open(run.log_path, "ab") as log:
                    popen = subprocess.Popen(
                        [sys.executable, "-m", "tui.supervision.reaper", str(run.path)],
                        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True,
                    )
            run.update_meta(reaper_pid=popen.pid, pgid=popen.pid)
            if self.sampler is not None:
                self.sampler.set_run(popen.pid, run_dir=run.path)
            info = AttemptInfo(number=number, run_id=run.id, run_dir=run.path, config=config, reason=reason,
                               state="starting", started=now(), spare=spare is not None,
                               cold_reason=None if spare is not None else cold)
            if cold is not None and self._launches > 0 and self.spares.enabled and not (
                    kind.spare_refusal is not None and self._said_never_spare):
                self._emit(SupervisorProblem(f"attempt {number} starts cold, without the warm spare: {cold}"))
                # A kind that never uses the spare is said once: it never changes.
                self._said_never_spare = kind.spare_refusal is not None
            self._launches += 1
            watched = Watched(info, run, popen=popen, lock_fd=lock_fd, emit=self._emit,
                              diagnose=self._diagnose, baseline=baseline)
            self._current = watched
            watched.start()
            self.spares.launched(info)
            return info

    # --- the warm spare ----------------------------------------------------

    @property
    def spare(self) -> Spare | None:
        """The spare waiting now, if any (its pids and RSS are memtui's own, not the run's)."""
        return self.spares.spare

    def spare_usage(self) -> tuple[tuple[int, ...], int] | None:
        """(pids, resident bytes) of the waiting spare, for the memory panel; None without one."""
        return self.spares.usage()

    def _end_current(self) -> None:
        cur = self._current
        if cur is None or cur.done.is_set():
            return
        if cur.info.read_only or cur.exited.is_set():
            if cur.info.read_only:
                self.detach()
            cur.done.wait(self.grace_int + self.grace_term + REAPER_GRACE + 5)
            return
        self.stop()
        if not cur.done.wait(self.grace_int + self.grace_term + REAPER_GRACE + 5):
            self._emit(SupervisorProblem(f"run {cur.run.id} did not end after stop; launching anyway"))
            self.detach()

    # --- stop ------------------------------------------------------------

    def stop(self, force: bool = False) -> None:
        """Stop the current run: SIGINT, then SIGTERM and SIGKILL after their graces
        (the watcher's stop sequence). A second call (or `force`) skips to SIGTERM. Never blocks."""
        cur = self._current
        if cur is None or cur.done.is_set() or cur.exited.is_set():
            return
        if cur.info.read_only:
            self._emit(SupervisorProblem(
                f"this screen is read-only: another memtui controls run {cur.run.id}; stop it there"))
            return
        cur.stop(force, self.grace_int, self.grace_term)

    # --- attach / detach -----------------------------------------------------

    def attach(self, run_dir: RunDir | str | Path, read_only: bool | None = None) -> AttemptInfo:
        """Replay a stored run's events, then follow it live. Control needs RUN/control.lock;
        without it (another memtui holds it, or read_only=True) the attempt is read-only."""
        run = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir).resolve())
        live = run.is_live()
        damage = run.damage(live)
        if damage:
            raise AttachError(f"cannot attach to run {run.id}: its folder is damaged ({damage})")
        config = run.config()
        if self._current is not None and not self._current.done.is_set():
            self.detach()
        lock_fd = None if read_only else run.try_lock()
        meta = run.meta()
        if lock_fd is not None and isinstance(meta.get("session"), str):
            self.session = meta["session"]  # relaunches continue this session and its backups
        number = meta.get("attempt") if isinstance(meta.get("attempt"), int) else self._next_number()
        created = meta.get("created")
        info = AttemptInfo(number=number, run_id=run.id, run_dir=run.path, config=config, reason="attach",
                           state="starting", started=created if isinstance(created, (int, float)) else now(),
                           read_only=lock_fd is None)
        watched = Watched(info, run, popen=None, lock_fd=lock_fd, emit=self._emit, diagnose=self._diagnose)
        self._current = watched
        if self.sampler is not None and live and watched.reaper_pid:
            self.sampler.set_run(watched.reaper_pid, run_dir=run.path)
        watched.start()
        if info.read_only and not read_only:
            self._emit(SupervisorProblem(f"read-only: another memtui controls run {run.id}; "
                                         "this screen follows it but cannot stop or relaunch it"))
        return info

    def detach(self) -> None:
        """Stop following the current run and release its lock; the trainer goes on."""
        cur = self._current
        if cur is None:
            return
        cur.detached.set()
        cur.wake()
        if cur.thread.is_alive() and threading.current_thread() is not cur.thread:
            cur.thread.join(timeout=2.0)
        cur.release()
        if all(a.run_id != cur.info.run_id for a in self._ended):
            self._ended.append(cur.info)
        if self.sampler is not None:
            self.sampler.set_run(None)
        self._current = None

    def close(self) -> None:
        """Detach (a stop already asked for still completes) and end the notices."""
        if self._closed:
            return
        self._closed = True
        self.spares.close()
        cur = self._current
        if cur is not None and cur.stop_level == 0:
            self.detach()
        if self._dispatcher is not None:
            self._queue.put(None)
            self._dispatcher.join(timeout=2.0)

    # --- the end of an attempt -------------------------------------------------

    def _diagnose(self, **kwargs: Any) -> Verdict:
        from tui.diagnosis import diagnose  # imported when an attempt ends, not at start-up

        if self.sampler is not None:
            self.sampler.set_run(None)
        return diagnose(**kwargs)


def _jsonable(baseline: Any) -> Any:
    if baseline is not None and dataclasses.is_dataclass(baseline) and not isinstance(baseline, type):
        return dataclasses.asdict(baseline)
    return None
