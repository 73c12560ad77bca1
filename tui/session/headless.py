"""`memtui run --headless`: the supervisor and auto-recovery with no screen.

For scripts, CI jobs and SSH sessions that may drop. Readable lines on stdout
(or one JSON object per line with --json), and an exit code that is the
outcome: 0 finished, 2 bad input, 3 out of memory (recovery off or given up),
4 crashed, 130 stopped. Ctrl-C (or SIGTERM) stops the run gracefully first;
a second one forces it. SIGHUP is ignored: the run outlives the terminal.
"""

from __future__ import annotations

import json
import queue
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from trainer.config import RunConfig
from trainer.protocol import Epoch, Event, ExitCode, Oom, RunEnd, RunStart, Step
from tui.common.units import format_bytes, loss_part, speed_words, step_count
from tui.common.verdict import FINISHED, STOPPED, Verdict
from tui.kinds import kind_for
from tui.kinds.words import fit_start_words, sentence_words
from tui.runs.facts import peak_of
from tui.runs.store import RunStore, RunStoreError
from tui.session.preflight import Preflight
from tui.session.preflight import one_line as preflight_line
from tui.session.recovery import Recovery
from tui.session.session import (
    AttemptConcluded,
    AttemptNote,
    AttemptStarted,
    Checked,
    EventBatch,
    LaunchFailed,
    RunSession,
    SessionNotice,
    SupervisorProblem,
)
from tui.supervision.attempt import AttemptInfo
from tui.telemetry.sampler import Sampler

OUTCOME_WORDS = {ExitCode.FINISHED: "finished", ExitCode.BAD_INPUT: "bad input", ExitCode.OOM: "out of memory",
                 ExitCode.ERROR: "crashed", ExitCode.STOPPED: "stopped"}
STEP_LINE_INTERVAL = 1.0  # seconds between step lines, whatever the step rate


def outcome_code(attempt: AttemptInfo, verdict: Verdict, stopped_by_user: bool) -> int:
    """The process exit code that says how the last attempt ended."""
    if stopped_by_user or verdict.kind == STOPPED:
        return int(ExitCode.STOPPED)
    if verdict.kind == FINISHED:
        return int(ExitCode.FINISHED)
    if verdict.is_oom:
        return int(ExitCode.OOM)
    return int(ExitCode.BAD_INPUT if attempt.exit_code == ExitCode.BAD_INPUT else ExitCode.ERROR)


class Printer:
    """Writes the story as lines or JSON; a terminal that went away is not an error."""

    def __init__(self, stream: TextIO, as_json: bool, remedy_key: Callable[[str], str | None] | None = None) -> None:
        self.stream = stream
        self.as_json = as_json
        self.remedy_key = remedy_key  # the screen's key for a remedy id, given by the CLI (the keys live in the UI)
        self._last_step: dict[str, float] = {}

    def _put(self, text: str) -> None:
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            # The terminal hung up: keep supervising, stop talking.
            self.stream = _Silent()

    def _json(self, kind: str, **fields: Any) -> None:
        self._put(json.dumps({"type": kind, "t": round(time.time(), 3), **fields}, default=str))

    def started(self, a: AttemptInfo) -> None:
        if self.as_json:
            self._json("start", attempt=a.number, run_id=a.run_id, reason=a.reason, run_dir=str(a.run_dir),
                       config=kind_for(a.config).describe(a.config) if a.config is not None else None,
                       **group_fields(a.config))
        else:
            # The reason of a relaunch was just printed on its own line.
            summary = sentence_words(a.config) if a.config is not None else "config unknown"
            if a.config is not None and a.config.workers > 1:
                own = a.config.script is not None and not a.config.script.set_batch  # the script's own batch
                share = "" if own else f", {a.config.worker_batch} examples each per step"
                summary += f"; {a.config.workers} workers{share}"
                if a.config.hosts:
                    summary += f", over SSH on {a.config.hosts}"
            self._put(f"[attempt {a.number}] start run {a.run_id}: {summary}")

    def events(self, a: AttemptInfo, events: list[Event], garbage: int) -> None:
        if self.as_json:
            for e in events:
                self._json("event", attempt=a.number, run_id=a.run_id, event=e.raw)
            if garbage:
                self._json("garbage", attempt=a.number, run_id=a.run_id, count=garbage)
            return
        for e in events:
            line = self._event_line(a, e)
            if line:
                self._put(f"[attempt {a.number}] {line}")

    def _event_line(self, a: AttemptInfo, e: Event) -> str | None:
        if isinstance(e, Step):
            now = time.monotonic()
            if now - self._last_step.get(a.run_id, -1e9) < STEP_LINE_INTERVAL:
                return None
            self._last_step[a.run_id] = now
            of = f"/{e.steps_in_epoch}" if e.steps_in_epoch else ""
            acc = f" accuracy {e.accuracy:.3f}" if e.accuracy is not None else ""
            mem = peak_of(e.memory)
            loss = loss_part(e.loss, e.raw)
            speed = speed_words(e.examples_per_second, e.step_seconds, e.batch_size, digits=1, long=True)
            return (f"epoch {e.epoch} step {e.step}{of}:{loss}{acc}{',' if loss or acc else ''} "
                    f"{speed}, memory {format_bytes(mem, digits=None, spaced=True)}")
        if isinstance(e, Epoch):
            metrics = ", ".join(f"{k} {v:.4f}" for k, v in e.metrics.items() if isinstance(v, (int, float)))
            return f"epoch {e.epoch} done: {metrics}"
        if isinstance(e, RunStart) and "phase" in e.raw:  # the user's own script's fit()
            notes = [n for n in e.raw.get("notes") or () if isinstance(n, str)]
            return fit_start_words(e.raw) + "".join(f"; note: {n}" for n in notes)
        if isinstance(e, Oom):
            return f"out of memory ({e.kind}): {e.message.splitlines()[0] if e.message else ''}"
        if isinstance(e, RunEnd):
            peak = format_bytes(e.peak_memory, digits=None, spaced=True)
            return f"{kind_for(a.config).process} says: {e.status} after {step_count(e.steps)}, peak {peak}"
        return None

    def ended(self, a: AttemptInfo, v: Verdict) -> None:
        if self.as_json:
            self._json("verdict", attempt=a.number, run_id=a.run_id, exit_code=a.exit_code, steps=a.steps,
                       peak_memory=a.peak_memory, verdict=self._verdict(v), **group_fields(a.config))
            return
        self._put(f"[attempt {a.number}] ended: {v.summary}")
        for line in v.evidence[:5]:
            self._put(f"    evidence: {line}")
        for i, r in enumerate(v.remedies, 1):
            self._put(f"    remedy {i}: {r.title} ({r.why})")

    def _verdict(self, v: Verdict) -> dict[str, Any]:
        data = v.to_dict()
        if self.remedy_key is not None:
            for remedy in data["remedies"]:
                remedy["key"] = self.remedy_key(remedy["id"])
        return data

    def relaunch(self, after: AttemptInfo, change_reason: str, rung: str, cfg: RunConfig) -> None:
        if self.as_json:
            self._json("relaunch", after_attempt=after.number, rung=rung, reason=change_reason,
                       config=kind_for(cfg).describe(cfg), **group_fields(cfg))
        else:
            self._put(f"[attempt {after.number + 1}] relaunch: {change_reason}")

    def preflight(self, p: Preflight) -> None:
        if self.as_json:
            self._json("estimate", predicted_bytes=p.predicted, calibrated_bytes=p.calibrated,
                       free_bytes=p.free_bytes, where=p.where, params=p.estimate.params,
                       batch_size=p.estimate.batch_size, warning=p.warning)
            return
        self._put(f"memtui: {preflight_line(p)}")
        if p.warning:
            self._put(f"memtui: warning: {p.warning}")

    def note(self, kind: str, message: str) -> None:
        if self.as_json:
            self._json(kind, message=message)
        else:
            self._put(f"memtui: {message}")

    def outcome(self, code: int, attempt: AttemptInfo, v: Verdict, recovery: Recovery) -> None:
        words = OUTCOME_WORDS[code]
        if self.as_json:
            self._json("outcome", status=words, exit_code=code, attempts=recovery.attempts, run_id=attempt.run_id,
                       verdict_kind=v.kind, gave_up=recovery.gave_up,
                       recovery=[s.to_dict() for s in recovery.steps])
        else:
            self._put(f"outcome: {words} after {recovery.attempts} attempt{'s' if recovery.attempts != 1 else ''} "
                      f"(last run {attempt.run_id}, {attempt.steps} steps; exit code {code})")


def group_fields(config: RunConfig | None) -> dict[str, Any]:
    """World size and per-worker batch (and the hosts, over SSH), for every JSON line about an attempt of a group."""
    if config is None or config.workers < 2:
        return {}
    fields: dict[str, Any] = {"world_size": config.workers, "per_worker_batch": config.worker_batch}
    if config.hosts:
        fields["hosts"] = config.hosts
    return fields


class _Silent:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        return None


class _Signals:
    """Turn SIGINT/SIGTERM into a count the loop reads; ignore SIGHUP."""

    def __init__(self) -> None:
        self.count = 0
        self._saved: list[tuple[int, Any]] = []

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.count += 1

    def __enter__(self) -> _Signals:
        handlers: dict[int, Callable[..., Any] | int] = {
            signal.SIGINT: self._on_signal,
            signal.SIGTERM: self._on_signal,
            signal.SIGHUP: signal.SIG_IGN,
        }
        for sig, handler in handlers.items():
            try:
                self._saved.append((sig, signal.signal(sig, handler)))
            except ValueError:  # not the main thread: the caller handles signals
                break
        return self

    def __exit__(self, *_exc: object) -> None:
        for sig, old in reversed(self._saved):
            signal.signal(sig, old)


def run_headless(config: RunConfig, recovery: Recovery, runs_root: Path, *, as_json: bool = False,
                 interval: float = 1.0, spare: bool = True, stream: TextIO | None = None,
                 remedy_key: Callable[[str], str | None] | None = None) -> int:
    """Run `config` to its outcome with no screen; return the exit code."""
    printer = Printer(stream or sys.stdout, as_json, remedy_key)
    try:
        store = RunStore(runs_root)
    except RunStoreError as exc:
        print(f"memtui run: {exc}", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    notices: queue.Queue[SessionNotice] = queue.Queue()
    # The sampler gives the supervisor its baseline before each launch (who
    # else holds the GPU) and the pre-flight check its free memory.
    sampler = Sampler(interval=interval)
    sampler.start()
    session = RunSession(store, sink=notices.put, recovery=recovery, sampler=sampler, spare=spare)
    with _Signals() as signals:
        try:
            session.launch(config, "first launch")
            return _follow(session, notices, recovery, printer, signals)
        finally:
            session.close()
            sampler.stop()


def _follow(session: RunSession, notices: queue.Queue[SessionNotice], recovery: Recovery, printer: Printer,
            signals: _Signals) -> int:
    """Print what the session reports until the chain of attempts ends."""
    current: str | None = None  # the run id being followed
    acted_on = 0  # signals already turned into a stop
    while True:
        if signals.count > acted_on:
            force = acted_on > 0
            acted_on = signals.count
            printer.note("stopping", "forcing the run to stop" if force else
                         "stopping the run gracefully (Ctrl-C again to force)")
            session.stop(force=force)
        try:
            notice = notices.get(timeout=0.2)
        except queue.Empty:
            continue
        if isinstance(notice, LaunchFailed):
            print(f"memtui run: {notice.message}", file=sys.stderr)
            return int(ExitCode.BAD_INPUT)
        if isinstance(notice, Checked):
            printer.preflight(notice.preflight)
            continue
        if isinstance(notice, SupervisorProblem):
            printer.note("problem", notice.message)
            continue
        if isinstance(notice, AttemptStarted):
            current = notice.attempt.run_id
            printer.started(notice.attempt)
            continue
        if notice.attempt.run_id != current:
            continue
        if isinstance(notice, EventBatch):
            printer.events(notice.attempt, list(notice.events), notice.garbage)
        elif isinstance(notice, AttemptNote):
            printer.note("note", notice.message)
        elif isinstance(notice, AttemptConcluded):
            ended, verdict = notice.attempt, notice.verdict
            printer.ended(ended, verdict)
            if notice.relaunch is not None and signals.count == 0:
                printer.relaunch(ended, notice.relaunch.reason, notice.rung or "", notice.relaunch.config)
                continue
            if notice.gave_up:
                printer.note("gave_up", notice.gave_up)
            code = outcome_code(ended, verdict, signals.count > 0)
            printer.outcome(code, ended, verdict, recovery)
            return code
