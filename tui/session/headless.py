"""`memtui run --headless`: the supervisor and auto-recovery with no screen.

For scripts, CI jobs and SSH sessions that may drop. Readable lines on stdout
(or one JSON object per line with --json), and an exit code that is the
outcome: 0 finished, 2 bad input, 3 out of memory (recovery off or given up),
4 crashed, 130 stopped. Ctrl-C (or SIGTERM) stops the run gracefully first;
a second one forces it. SIGHUP is ignored: the run outlives the terminal.
"""

from __future__ import annotations

import argparse
import json
import queue
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TextIO

from trainer.config import RunConfig
from trainer.protocol import Epoch, Event, Oom, RunEnd, Step
from tui.cli.options import runs_root
from tui.common.units import format_loss
from tui.common.verdict import FINISHED, STOPPED, Verdict
from tui.runs.facts import peak_of
from tui.runs.store import RunStore, RunStoreError
from tui.session.preflight import Preflight, preflight
from tui.session.preflight import one_line as preflight_line
from tui.session.preflight import record as record_preflight
from tui.session.recovery import Recovery
from tui.supervision.attempt import AttemptEnded, AttemptInfo, AttemptStarted, EventBatch, Notice, SupervisorProblem
from tui.supervision.supervisor import Supervisor
from tui.telemetry.sampler import Sampler

STEP_LINE_INTERVAL = 1.0  # seconds between step lines, whatever the step rate


def outcome_code(attempt: AttemptInfo, verdict: Verdict, stopped_by_user: bool) -> int:
    """The process exit code that says how the last attempt ended."""
    if stopped_by_user or verdict.kind == STOPPED:
        return 130
    if verdict.kind == FINISHED:
        return 0
    if verdict.is_oom:
        return 3
    return 2 if attempt.exit_code == 2 else 4


def config_summary(cfg: RunConfig) -> str:
    parts = [
        f"model {cfg.model}",
        f"{cfg.image_size} px",
        f"batch {cfg.batch_size}" + (f" × accumulate {cfg.grad_accum}" if cfg.grad_accum > 1 else ""),
        f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}"
        + (f" × {cfg.steps_per_epoch} steps" if cfg.steps_per_epoch else ""),
        "data " + (cfg.data or "built-in demo"),
    ]
    if cfg.memory_growth:
        parts.append("memory growth")
    if cfg.mixed_precision:
        parts.append("mixed precision")
    if cfg.gpu_memory_limit:
        parts.append(f"GPU limit {cfg.gpu_memory_limit} MB")
    if cfg.host_memory_limit:
        parts.append(f"host limit {cfg.host_memory_limit} MB")
    return ", ".join(parts)


def _bytes(n: Any) -> str:
    if not isinstance(n, (int, float)) or isinstance(n, bool):
        return "?"
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


class Printer:
    """Writes the story as lines or JSON; a terminal that went away is not an error."""

    def __init__(self, stream: TextIO, as_json: bool) -> None:
        self.stream = stream
        self.as_json = as_json
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
                       config=a.config.to_dict() if a.config is not None else None)
        else:
            # The reason of a relaunch was just printed on its own line.
            summary = config_summary(a.config) if a.config is not None else "config unknown"
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
            return (f"epoch {e.epoch} step {e.step}{of}: loss {format_loss(e.loss)}{acc}, "
                    f"{e.examples_per_second:.1f} examples/s, memory {_bytes(mem)}")
        if isinstance(e, Epoch):
            metrics = ", ".join(f"{k} {v:.4f}" for k, v in e.metrics.items() if isinstance(v, (int, float)))
            return f"epoch {e.epoch} done: {metrics}"
        if isinstance(e, Oom):
            return f"out of memory ({e.kind}): {e.message.splitlines()[0] if e.message else ''}"
        if isinstance(e, RunEnd):
            return f"trainer says: {e.status} after {e.steps} steps, peak {_bytes(e.peak_memory)}"
        return None

    def ended(self, a: AttemptInfo, v: Verdict) -> None:
        if self.as_json:
            self._json("verdict", attempt=a.number, run_id=a.run_id, exit_code=a.exit_code, steps=a.steps,
                       peak_memory=a.peak_memory, verdict=v.to_dict())
            return
        self._put(f"[attempt {a.number}] ended: {v.summary}")
        for line in v.evidence[:5]:
            self._put(f"    evidence: {line}")
        for i, r in enumerate(v.remedies, 1):
            self._put(f"    remedy {i}: {r.title} ({r.why})")

    def relaunch(self, after: AttemptInfo, change_reason: str, rung: str, cfg: RunConfig) -> None:
        if self.as_json:
            self._json("relaunch", after_attempt=after.number, rung=rung, reason=change_reason,
                       config=cfg.to_dict())
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
        words = {0: "finished", 2: "bad input", 3: "out of memory", 4: "crashed", 130: "stopped"}[code]
        if self.as_json:
            self._json("outcome", status=words, exit_code=code, attempts=recovery.attempts, run_id=attempt.run_id,
                       verdict_kind=v.kind, gave_up=recovery.gave_up,
                       recovery=[s.to_dict() for s in recovery.steps])
        else:
            self._put(f"outcome: {words} after {recovery.attempts} attempt{'s' if recovery.attempts != 1 else ''} "
                      f"(last run {attempt.run_id}, {attempt.steps} steps; exit code {code})")


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


def _given(ns: argparse.Namespace, name: str, default: int) -> int:
    value = getattr(ns, name, None)
    return default if value is None else int(value)


def run_headless(config: RunConfig, ns: argparse.Namespace, stream: TextIO | None = None) -> int:
    """Run `config` to its outcome with no screen; return the exit code."""
    printer = Printer(stream or sys.stdout, bool(getattr(ns, "json", False)))
    try:
        recovery = Recovery(
            bool(getattr(ns, "auto_recover", False)),
            min_batch=_given(ns, "min_batch", 1),
            max_attempts=_given(ns, "max_attempts", 8),
        )
    except ValueError as exc:
        print(f"memtui run: {exc}", file=sys.stderr)
        return 2
    try:
        store = RunStore(runs_root(ns))
    except RunStoreError as exc:
        print(f"memtui run: {exc}", file=sys.stderr)
        return 2
    notices: queue.Queue[Notice] = queue.Queue()
    # The sampler gives the supervisor its baseline before each launch (who
    # else holds the GPU) and the pre-flight check its free memory.
    sampler = Sampler(interval=getattr(ns, "interval", None) or 1.0)
    sampler.start()
    supervisor = Supervisor(store, sink=notices.put, sampler=sampler, spare=not getattr(ns, "no_spare", False))

    def launch(cfg: RunConfig, reason: str) -> AttemptInfo:
        checked = preflight(cfg, sampler.latest or sampler.take_baseline(), store)
        printer.preflight(checked)
        info = supervisor.launch(cfg, reason)
        if (problem := record_preflight(info.run_dir, checked)) is not None:
            printer.note("problem", problem)
        return info

    with _Signals() as signals:
        try:
            return _supervise(supervisor, launch, notices, config, recovery, printer, signals)
        except RunStoreError as exc:  # e.g. the disk filled up between attempts
            print(f"memtui run: {exc}", file=sys.stderr)
            return 2
        finally:
            supervisor.close()
            sampler.stop()


def _supervise(
    supervisor: Supervisor,
    launch: Callable[[RunConfig, str], AttemptInfo],
    notices: queue.Queue[Notice],
    config: RunConfig,
    recovery: Recovery,
    printer: Printer,
    signals: _Signals,
) -> int:
    current = launch(config, "first launch")
    acted_on = 0  # signals already turned into a stop
    while True:
        if signals.count > acted_on:
            force = acted_on > 0
            acted_on = signals.count
            printer.note("stopping", "forcing the run to stop" if force else
                         "stopping the run gracefully (Ctrl-C again to force)")
            supervisor.stop(force=force)
        try:
            notice = notices.get(timeout=0.2)
        except queue.Empty:
            continue
        if isinstance(notice, SupervisorProblem):
            printer.note("problem", notice.message)
            continue
        if notice.attempt.run_id != current.run_id:
            continue
        if isinstance(notice, AttemptStarted):
            printer.started(notice.attempt)
        elif isinstance(notice, EventBatch):
            printer.events(notice.attempt, list(notice.events), notice.garbage)
        elif isinstance(notice, AttemptEnded):
            ended, verdict = notice.attempt, notice.verdict
            printer.ended(ended, verdict)
            stopped = signals.count > 0
            change = None if stopped else recovery.on_end(ended, verdict)
            if change is None:
                if recovery.gave_up and verdict.is_oom:
                    printer.note("gave_up", recovery.gave_up)
                code = outcome_code(ended, verdict, stopped)
                printer.outcome(code, ended, verdict, recovery)
                return code
            printer.relaunch(ended, change.reason, recovery.steps[-1].rung, change.config)
            current = launch(change.config, change.reason)
