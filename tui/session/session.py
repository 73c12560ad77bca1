"""One run session: an attempt's whole life, the same for every front end.

The screen, headless mode and find-batch each used to write the sequence
themselves: pre-flight estimate, launch, record, and at an ending the verdict,
recovery, the gave-up note and the relaunch. `RunSession` owns it; a front end
renders the notices it hands over, in order, and asks it to launch or stop.

Notices are the supervisor's (`AttemptStarted`, `EventBatch`,
`SupervisorProblem`), plus the session's own: `Checked` before a launch, and
`AttemptConcluded` in place of the supervisor's `AttemptEnded`, carrying what
recovery decided. Launches run on the session's own thread, never on the
caller's or the watch thread that reports an ending (that thread is the one a
relaunch must wait for).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.config import RunConfig
from trainer.protocol import Step
from tui.common.verdict import Verdict
from tui.kinds import kind_of
from tui.remedies.changes import Change
from tui.runs.store import RunStore
from tui.session.preflight import Preflight, preflight, record
from tui.session.recovery import Recovery
from tui.supervision.attempt import (
    AttemptEnded,
    AttemptInfo,
    AttemptNote,
    AttemptStarted,
    EventBatch,
    Notice,
    SupervisorProblem,
)
from tui.supervision.supervisor import Supervisor

__all__ = ["AttemptConcluded", "AttemptNote", "AttemptStarted", "Checked", "Ending", "EventBatch", "LaunchFailed",
           "RunSession", "SessionNotice", "SupervisorProblem"]


@dataclass(frozen=True)
class Checked:
    """The pre-flight estimate of the attempt about to launch."""

    preflight: Preflight
    reason: str


@dataclass(frozen=True)
class AttemptConcluded:
    """An attempt ended, was diagnosed, and recovery decided what follows.

    `relaunch` is the Change the session is launching now (None: the chain
    ends here); `note` says it in words for the screen, `gave_up` is set when
    recovery stopped relaunching an out-of-memory chain."""

    attempt: AttemptInfo
    verdict: Verdict
    relaunch: Change | None = None
    rung: str | None = None
    note: str | None = None
    gave_up: str | None = None
    stopped_by_user: bool = False


@dataclass(frozen=True)
class LaunchFailed:
    """An attempt could not be launched (the runs folder unwritable, the disk full)."""

    message: str
    error: Exception


SessionNotice = Checked | AttemptConcluded | LaunchFailed | Notice


@dataclass
class Ending:
    """What `run_to_end` saw of one attempt."""

    attempt: AttemptInfo
    verdict: Verdict
    steps: list[Step] = field(default_factory=list)


class RunSession:
    """The chain of attempts one front end follows.

    `sink` gets every notice in order; with `sink_blocks=False` it is called on
    whatever thread the notice arises on and must not block (the screen's
    Handoff); otherwise from one dispatcher thread (a queue's `put`)."""

    def __init__(self, store: RunStore, *, sink: Callable[[SessionNotice], None], sink_blocks: bool = True,
                 recovery: Recovery | None = None, sampler: Any = None, trainer_module: str | None = None,
                 preflight_check: bool = True, spare: bool = True, spare_early: bool = False) -> None:
        self.store = store
        self.recovery = recovery
        self.sampler = sampler
        self.preflight_check = preflight_check
        self._sink = sink
        self._stop_requested = False
        # run_to_end's bookkeeping: steps and endings are kept only while it waits.
        self._collecting = False
        self._steps: dict[str, list[Step]] = {}
        self._endings: dict[str, Ending] = {}
        # The last out-of-memory ending that nothing followed (recovery was off):
        # switching recovery on acts on it (recover_now).
        self._unanswered: tuple[AttemptInfo, Verdict] | None = None
        self._waiting = threading.Condition()
        self._jobs: queue.SimpleQueue[tuple[Callable[[], object], threading.Event] | None] = queue.SimpleQueue()
        self._launcher = threading.Thread(target=self._launch_loop, name="session-launcher", daemon=True)
        self._launcher.start()
        self.supervisor = Supervisor(store, sink=self._on_notice, sink_blocks=sink_blocks, sampler=sampler,
                                     trainer_module=trainer_module, spare=spare, spare_early=spare_early)

    # --- what the front end asks -------------------------------------------------

    def launch(self, config: RunConfig, reason: str, *, by_hand: bool = False, wait: bool = False) -> None:
        """Pre-flight, launch and record an attempt on the session's thread (a live
        one is stopped first). `by_hand`: a person chose it, so recovery starts a
        new chain. `wait`: block until the attempt has started."""
        if by_hand and self.recovery is not None:
            self.recovery.reset()
        done = self._submit(lambda: self._launch(config, reason))
        if wait:
            done.wait()

    def recover_now(self) -> None:
        """Recovery was switched on: if the last attempt ran out of memory and
        nothing followed it, take the next remedy now, as if it had been on."""
        self._submit(self._answer_last_ending)

    def attach(self, run_dir: Path) -> None:
        self._submit(lambda: self.supervisor.attach(run_dir))

    def stop(self, force: bool = False) -> None:
        """Stop the live attempt (gracefully, or `force`); recovery does not relaunch it."""
        self._stop_requested = True
        self.supervisor.stop(force=force)

    def detach(self) -> None:
        self.supervisor.detach()

    def close(self) -> None:
        """No more launches; one in flight finishes first, so the supervisor closes
        over every attempt it started."""
        self._jobs.put(None)
        self._launcher.join(timeout=30)
        self.supervisor.close()

    @property
    def current(self) -> AttemptInfo | None:
        return self.supervisor.current

    def run_to_end(self, config: RunConfig, reason: str, cancel: threading.Event | None = None) -> Ending | None:
        """Launch one attempt on this thread and block until it is concluded
        (find-batch's probes). None when `cancel` was set: the attempt was stopped."""
        self._collecting = True
        try:
            info = self._launch(config, reason)
            stopping = False
            while True:
                if cancel is not None and cancel.is_set() and not stopping:
                    stopping = True
                    self.stop()
                with self._waiting:
                    if self._waiting.wait_for(lambda: info.run_id in self._endings, timeout=0.2):
                        ending = self._endings.pop(info.run_id)
                        return None if stopping else ending
        finally:
            self._collecting = False
            self._steps.clear()
            self._endings.clear()

    # --- inside -------------------------------------------------------------------

    def _submit(self, job: Callable[[], object]) -> threading.Event:
        done = threading.Event()
        self._jobs.put((job, done))
        return done

    def _launch_loop(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, done = item
            try:
                job()
            except Exception as exc:  # a launch that failed is told, not lost in a thread
                self._sink(LaunchFailed(str(exc), exc))
            finally:
                done.set()

    def _launch(self, config: RunConfig, reason: str) -> AttemptInfo:
        checked = None
        if self.preflight_check and kind_of(config).estimate:
            reading = (self.sampler.latest or self.sampler.take_baseline()) if self.sampler is not None else None
            checked = preflight(config, reading, self.store)
            self._sink(Checked(checked, reason))
        self._stop_requested = False
        self._unanswered = None
        info = self.supervisor.launch(config, reason)
        if checked is not None and (problem := record(info.run_dir, checked)) is not None:
            self._sink(SupervisorProblem(problem))
        return info

    def _on_notice(self, notice: Notice) -> None:
        if self._collecting and isinstance(notice, EventBatch):
            self._steps.setdefault(notice.attempt.run_id, []).extend(
                e for e in notice.events if isinstance(e, Step))
        if not isinstance(notice, AttemptEnded):
            self._sink(notice)
            return
        concluded = self._conclude(notice.attempt, notice.verdict)
        if self._collecting:
            with self._waiting:
                run_id = notice.attempt.run_id
                self._endings[run_id] = Ending(notice.attempt, notice.verdict, self._steps.pop(run_id, []))
                self._waiting.notify_all()
        self._sink(concluded)
        if (change := concluded.relaunch) is not None:
            self._submit(lambda: self._launch(change.config, change.reason))
        elif notice.verdict.is_oom and not concluded.stopped_by_user and concluded.gave_up is None:
            self._unanswered = (notice.attempt, notice.verdict)

    def _answer_last_ending(self) -> None:
        ended, recovery = self._unanswered, self.recovery
        if ended is None or recovery is None or not recovery.enabled:
            return
        concluded = self._conclude(*ended)
        if concluded.note is not None:
            self._sink(AttemptNote(ended[0], concluded.note))
        if (change := concluded.relaunch) is not None:
            self._launch(change.config, change.reason)

    def _conclude(self, info: AttemptInfo, verdict: Verdict) -> AttemptConcluded:
        """What follows this ending: a relaunch with the next remedy, or nothing."""
        stopped = self._stop_requested
        recovery = self.recovery
        if recovery is None or stopped:
            return AttemptConcluded(info, verdict, stopped_by_user=stopped)
        change = recovery.on_end(info, verdict)
        if change is None:
            gave_up = recovery.gave_up if verdict.is_oom else None
            return AttemptConcluded(info, verdict, note=gave_up, gave_up=gave_up)
        return AttemptConcluded(info, verdict, relaunch=change, rung=recovery.steps[-1].rung,
                                note=f"auto-recover: relaunching — {change.reason}")
