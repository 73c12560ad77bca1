"""One attempt under watch: its process handles, its follower, the loop that
turns the event file into batched notices until the process ends, and its stop
sequence (SIGINT, SIGTERM, SIGKILL).

How the attempt ended (verdict and state, together) is the diagnosis layer's (`tui.diagnosis.ending`); what
the run's kind learns and says while it runs is the kind's (`tui.kinds`); `supervisor.py` decides what to launch.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable

import psutil

from trainer.protocol import Event, RunStart
from tui.common import procctl
from tui.common.verdict import Verdict
from tui.diagnosis.ending import decide
from tui.kinds import kind_for
from tui.runs.folder import RunDir
from tui.supervision import groupends
from tui.supervision.attempt import (
    AttemptEnded,
    AttemptInfo,
    AttemptNote,
    AttemptStarted,
    EventBatch,
    Notice,
    Progress,
    SupervisorProblem,
    now,
)
from tui.supervision.wakeup import Wakeup

# The loop sleeps until the trainer writes (inotify) or the reaper exits (a pidfd, wakeup.py), else
# polls every IDLE_SLEEP: an event reaches the screen within ~10 ms plus a batch, inside the 100 ms
# budget for the newest step. Batching only bounds the notices (~100 a second at most).
BATCH_SECONDS = 0.01
BATCH_EVENTS = 500
IDLE_SLEEP = 0.01
LIVENESS_EVERY = 0.25
REAPER_GRACE = 2.0  # seconds for the reaper to record a SIGKILLed trainer


class Watched:
    """An attempt being followed. `popen` is set only for runs this process launched."""

    def __init__(self, info: AttemptInfo, run: RunDir, *, popen: subprocess.Popen[bytes] | None,
                 lock_fd: int | None, emit: Callable[[Notice], None], diagnose: Callable[..., Verdict],
                 baseline: object = None) -> None:
        from tui.supervision.follow import EventFollower

        self.info = info
        self.run = run
        self.popen = popen
        self.lock_fd = lock_fd
        self.emit = emit
        self.diagnose = diagnose
        self.baseline = baseline
        meta = run.meta()
        self.reaper_pid: int | None = popen.pid if popen else meta.get("reaper_pid")
        self.pgid: int | None = popen.pid if popen else meta.get("pgid")
        self.follower = EventFollower(run.events_path)
        self.wakeup = Wakeup(run.events_path, self.reaper_pid)  # its descriptors live while the loop runs
        self.progress = Progress()
        self.recent: deque[Event] = deque(maxlen=400)
        self.run_start: RunStart | None = None
        self.peak_rss: int | None = None
        self._trainer: psutil.Process | None = None
        self.lock = threading.Lock()
        self.exited = threading.Event()  # the reaper (so the trainer) is gone
        self.done = threading.Event()  # the verdict went out, or we detached
        self.detached = threading.Event()
        self.force = threading.Event()
        self.stop_level = 0  # 0 none, 1 SIGINT sent, 2 forcing
        # What the run's kind learns from its run_start is folded into the attempt's config.
        self.kind = kind_for(info.config)
        self.fit_seen = False
        self._watch_done = False  # the kind's note while it runs went out, or it has nothing to say
        self._notes: list[str] = []  # said after the batch that brought them
        self.thread = threading.Thread(target=self._loop, name=f"watch-{run.id}", daemon=True)

    # --- state -----------------------------------------------------------

    def update(self, **changes: object) -> AttemptInfo:
        with self.lock:
            self.info = dataclasses.replace(self.info, **changes)
            return self.info

    def process_ended(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is not None
        # Not run.is_live(): that turns false once exit.json exists, while the
        # reaper may still be exiting; "ended" here means no process is left.
        needle = str(self.run.path)
        return not (procctl.is_our_process(self.reaper_pid, needle)
                    or procctl.is_our_process(self.run.trainer_pid(), needle))

    # --- the loop --------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        """End the loop's current sleep, so a `detached` just set is seen at once."""
        self.wakeup.wake()

    def _loop(self) -> None:
        try:
            self._follow()
        except Exception as exc:  # a thread boundary: report, never die silently
            self.emit(SupervisorProblem(f"following run {self.run.id} failed: {type(exc).__name__}: {exc}"))
        finally:
            self.wakeup.close()
            self.follower.close()
            self.done.set()

    def _follow(self) -> None:
        self.emit(AttemptStarted(self.info))
        wakeup = self.wakeup.open()
        batch: list[Event] = []
        garbage = 0
        last_flush = last_check = time.monotonic()
        notes_sent = 0
        exit_hint = False  # the pidfd said the reaper is gone
        while not self.detached.is_set():
            events, bad = self.follower.poll()
            # A write between that read and a new watch raised no event: read again before sleeping.
            again = self.follower.fd is not None and wakeup.track_file(self.follower.fd)
            if events or bad:
                self._absorb(events)
                batch.extend(events)
                garbage += bad
            if len(self.follower.notes) > notes_sent:
                for note in self.follower.notes[notes_sent:]:
                    self.emit(SupervisorProblem(note))
                notes_sent = len(self.follower.notes)
            clock = time.monotonic()
            if (batch or garbage) and (clock - last_flush >= BATCH_SECONDS or len(batch) >= BATCH_EVENTS):
                self._flush(batch, garbage)
                batch, garbage, last_flush = [], 0, clock
            # Without a pidfd our own child is checked every pass (a cheap waitpid);
            # a run started by another memtui needs psutil, so it and the RSS sample are rarer.
            every_pass = self.popen is not None and not wakeup.exit_events
            slow_due = clock - last_check >= LIVENESS_EVERY
            if slow_due:
                last_check = clock
                self._sample_rss()
                if not self._watch_done:
                    self._check_watch_note()
            if (every_pass or slow_due or exit_hint) and self.process_ended():
                self.exited.set()
                break
            if again or self.follower.backlog or ((events or bad) and not wakeup.file_events):
                exit_hint = False
                continue
            exit_hint = wakeup.wait(self._timeout(clock, last_check, last_flush if batch or garbage else None,
                                                  short=every_pass or not wakeup.file_events))
        if self.detached.is_set():
            self._flush(batch, garbage)
            return
        events, bad = self.follower.finish()
        self._absorb(events)
        self._flush([*batch, *events], garbage + bad)
        self._conclude()

    def _timeout(self, clock: float, last_check: float, last_flush: float | None, short: bool) -> float:
        """Until the next liveness check, or the pending batch's flush; IDLE_SLEEP at
        most where a write, the end or a detach would not end the sleep by itself."""
        due = last_check + LIVENESS_EVERY
        if last_flush is not None:
            due = min(due, last_flush + BATCH_SECONDS)
        if short or not self.wakeup.can_wake:
            due = min(due, clock + IDLE_SLEEP)
        return max(0.0, due - clock)

    def _absorb(self, events: list[Event]) -> None:
        if not events:
            return
        self.recent.extend(events)
        for event in events:
            if isinstance(event, RunStart):
                if self.run_start is None:
                    self.run_start = event
                self._learn(event)
        self.progress.apply(events)

    # --- what the run's kind learns and says ------------------------------------

    def _learn(self, event: RunStart) -> None:
        """Fold what a run_start reported into the attempt's config (a script's batch
        and how it can be set, its model): keys, remedies and recovery ask that."""
        first = not self.fit_seen
        self.fit_seen = True
        config = self.info.config
        if config is not None:
            learned = self.kind.learn(config, event.raw)
            if learned is not config:
                self.update(config=learned)
        relaunch = self.info.number > 1 and self.info.reason != "attach"
        if first and (note := self.kind.resume_note(event.raw, relaunch)) is not None:
            self._notes.append(f"attempt {self.info.number} {note}")

    def _check_watch_note(self) -> None:
        done, note = self.kind.watch_note(self.run.path, time.time() - self.info.started, self.fit_seen)
        self._watch_done = done
        if note is not None:
            self.emit(AttemptNote(self.info, note))

    def _ending_note(self, exit_code: int | None) -> None:
        if self._watch_done:
            return
        note = self.kind.ending_note(self.run.path, self.fit_seen, exit_code, bool(self.stop_level))
        if note is not None:
            self.emit(AttemptNote(self.info, note))

    def _flush(self, batch: list[Event], garbage: int) -> None:
        if not batch and not garbage:
            return
        info = self.update_progress()
        for i in range(0, max(len(batch), 1), BATCH_EVENTS):
            chunk = tuple(batch[i:i + BATCH_EVENTS])
            self.emit(EventBatch(info, chunk, garbage if i == 0 else 0))
        notes, self._notes = self._notes, []
        for note in notes:
            self.emit(AttemptNote(info, note))

    def update_progress(self) -> AttemptInfo:
        with self.lock:
            self.info = self.progress.into(self.info)
            return self.info

    def _sample_rss(self) -> None:
        """The trainer's resident memory, kept for telling a host OOM kill from other kills."""
        try:
            if self._trainer is None:
                pid = self.run.trainer_pid()
                if pid is None:
                    return
                self._trainer = psutil.Process(pid)
            rss = self._trainer.memory_info().rss
        except psutil.Error:
            return
        if self.peak_rss is None or rss > self.peak_rss:
            self.peak_rss = rss

    # --- the stop --------------------------------------------------------

    def stop(self, force: bool, grace_int: float, grace_term: float) -> None:
        """SIGINT, then SIGTERM and SIGKILL after their graces; a second call (or
        `force`) skips to SIGTERM. Never blocks: the sequence runs in a thread of its own."""
        if self.done.is_set() or self.exited.is_set():
            return
        with self.lock:
            level = self.stop_level
            self.stop_level = 2 if (force or level >= 1) else 1
        if level >= 1:
            self.force.set()
            return
        if force:
            self.force.set()
        info = self.update(state="stopping")
        self.emit(EventBatch(info, (), 0))
        # Not a daemon: a stop asked for must finish even if memtui is quitting.
        threading.Thread(target=self._escalate, args=(grace_int, grace_term), name=f"stop-{self.run.id}").start()

    def _escalate(self, grace_int: float, grace_term: float) -> None:
        if self.pgid is None:
            return
        if not self.force.is_set():
            procctl.signal_group(self.pgid, signal.SIGINT)
            if self.wait_end(grace_int, stop_on_force=True):
                return
        procctl.signal_group(self.pgid, signal.SIGTERM)
        if self.wait_end(grace_term):
            return
        # SIGKILL the trainer and its children first and let the reaper record
        # that; then sweep the group so nothing is left holding memory.
        for pid in [p for p in procctl.group_members(self.pgid) if p != self.reaper_pid]:
            procctl.signal_pid(pid, signal.SIGKILL)
        self.wait_end(REAPER_GRACE)
        procctl.signal_group(self.pgid, signal.SIGKILL)

    def wait_end(self, seconds: float, stop_on_force: bool = False) -> bool:
        """Wait up to `seconds` for the process to end; False when it has not (or a force came)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.exited.is_set() or self.process_ended():
                return True
            if stop_on_force and self.force.is_set():
                return False
            time.sleep(0.05)
        return self.process_ended()

    # --- the end ---------------------------------------------------------

    def _sweep(self) -> None:
        """Kill what is left of the run's process group once the reaper and trainer
        are gone. A child of the trainer (a data-loading worker, say) is orphaned
        when the trainer dies of a signal and would hold its memory until reboot.
        The group id cannot name another group while any of these is alive."""
        if self.pgid and not self.info.read_only:
            procctl.signal_group(self.pgid, signal.SIGKILL)

    def _conclude(self) -> None:
        self._sweep()
        exit_info = self.run.exit_info()
        code = (exit_info or {}).get("returncode")
        self._ending_note(code if isinstance(code, int) else None)
        events = tuple(self.recent)
        if self.run_start is not None and self.run_start not in events:
            events = (self.run_start, *events)
        group = exit_info or {}  # --workers N: the failing worker's evidence and memory
        log_tail, events = groupends.evidence(self.run, group, self.run.log_tail(), events)
        peak_rss, host_total = groupends.failing_memory(self.run, group, self.peak_rss, psutil.virtual_memory().total)
        ending = decide(
            exit_info=exit_info, stored=self.run.verdict() if self.popen is None else None, run_path=self.run.path,
            stop_asked=self.stop_level > 0, diagnose=self.diagnose, log_tail=log_tail, events=events,
            config=self.info.config, baseline=self.baseline, peak_rss=peak_rss, host_total=host_total)
        if ending.fresh:  # a group's verdict names the worker that failed
            ending = dataclasses.replace(ending, verdict=groupends.name_worker(ending.verdict, group))
        if ending.problem is not None:
            self.emit(SupervisorProblem(ending.problem))
        if ending.fresh and (not self.info.read_only or not self.run.verdict_path.exists()):
            try:
                self.run.write_verdict(ending.verdict)
            except OSError as exc:
                self.emit(SupervisorProblem(f"cannot write {self.run.verdict_path}: {exc.strerror}"))
            else:
                from tui.runs.tensorboard import export_in_background  # at an ending, not at start-up

                export_in_background(self.run)
        ended = (exit_info or {}).get("ended")
        self.update_progress()
        info = self.update(state=ending.state, ended=ended if isinstance(ended, (int, float)) else now(),
                           exit_code=ending.exit_code, verdict=ending.verdict)
        self.release()
        self.emit(AttemptEnded(info, ending.verdict))

    def release(self) -> None:
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None
