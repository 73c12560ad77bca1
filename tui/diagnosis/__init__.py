"""The diagnosis: how a training attempt ended, in words, with remedies.

A pure function of the exit status, the tail of the trainer's log, its last
events and the telemetry before launch. No Textual, no TensorFlow. The
non-fatal memory messages (freed_by_count, start-up CUDA_ERROR_OUT_OF_MEMORY
retries, the 10% warning, garbage collection) are recognised so that they
never make an OOM verdict on their own.
"""

from __future__ import annotations

import re
import signal as _signal
from collections.abc import Sequence
from dataclasses import dataclass

from trainer.config import RunConfig
from trainer.protocol import Error, Event, ExitCode, Oom, RunEnd, RunStart, Step
from tui.common.units import step_count
from tui.common.verdict import (
    FINISHED,
    HOST_OOM,
    KILLED,
    LIBRARY_ERROR,
    MASKED_OOM,
    NOT_OOM,
    OTHER_PROCESSES,
    PROBABLE_OOM,
    STOPPED,
    Verdict,
)
from tui.diagnosis import summary as say
from tui.diagnosis.exits import ended_by_stop, signal_name, signal_of, tail_text
from tui.diagnosis.frames import user_frame
from tui.diagnosis.memory import library_problem, memory_kind, merged_details, other_holders, rss_share
from tui.diagnosis.patterns import HINTS, NON_FATAL, WEIGHT, Finding, backend_of, scan
from tui.diagnosis.rank import rank
from tui.diagnosis.refusals import with_refusals
from tui.kinds import kind_for
from tui.telemetry.snapshot import Snapshot

__all__ = ["backend_of_run", "diagnose", "ended_by_stop", "signal_of", "tail_text"]

MAX_EVIDENCE = 5
_GPU_OOMS = frozenset({"device-oom", "xla-oom", "async-allocator-oom", MASKED_OOM, PROBABLE_OOM})
_HOST_ABORTS = ("bad-alloc", "thread", "memory-error")


def backend_of_run(log_tail: str, config: RunConfig | None = None) -> str | None:
    """"tensorflow", "jax", "torch" or None: the run's own setting where it has
    one, else what the log's text shows."""
    chosen = getattr(config, "backend", None) if config is not None else None
    if isinstance(chosen, str) and chosen:
        return chosen
    return backend_of(log_tail or "")


@dataclass(frozen=True)
class _Facts:
    findings: list[Finding]
    oom: Oom | None
    error: Error | None
    end: RunEnd | None
    last_step: Step | None
    started: bool | None  # steps ran (True), none ran (False), unknown (None)
    saw_fit: bool = False  # a run_start was written


def _facts(log_tail: str, events: Sequence[Event]) -> _Facts:
    oom = error = end = last_step = None
    saw_start = False
    for e in events:
        if isinstance(e, Oom):
            oom = e
        elif isinstance(e, Error):
            error = e
        elif isinstance(e, RunEnd):
            end = e
        elif isinstance(e, Step):
            last_step = e
        elif isinstance(e, RunStart):
            saw_start = True
    text = log_tail or ""
    if oom is not None:
        text += "\n" + oom.message
    if error is not None:
        text += f"\n{error.exception}: {error.message}"
    started = True if last_step is not None else (False if saw_start or events else None)
    return _Facts(scan(text), oom, error, end, last_step, started, saw_start)


def diagnose(
    *,
    exit_code: int | None,
    log_tail: str,
    events: Sequence[Event] = (),
    config: RunConfig | None = None,
    baseline: Snapshot | None = None,
    peak_rss: int | None = None,
    host_total: int | None = None,
    stop_asked: bool = False,
) -> Verdict:
    """How the attempt ended, why, and what to try, ranked for this case.
    `stop_asked`: memtui was asked to stop the run (a key, Ctrl-C)."""
    verdict = _diagnose(exit_code=exit_code, log_tail=log_tail, events=events, config=config, baseline=baseline,
                        peak_rss=peak_rss, host_total=host_total)
    if stop_asked and verdict.kind in (NOT_OOM, KILLED, LIBRARY_ERROR) and ended_by_stop(exit_code, log_tail):
        # Ended by the stop itself: its SIGTERM, or a SIGINT before the handlers were in
        # place (say, while importing TensorFlow). The person asked for this ending.
        facts = _facts(log_tail, events)
        verdict = _verdict(STOPPED, f"Training was stopped by the user{say.when(facts.last_step, facts.started)}.",
                           facts)
    # The verdict carries what the script hook could not apply, and why (refusals.py).
    return with_refusals(verdict, events)


def _diagnose(
    *,
    exit_code: int | None,
    log_tail: str,
    events: Sequence[Event],
    config: RunConfig | None,
    baseline: Snapshot | None,
    peak_rss: int | None,
    host_total: int | None,
) -> Verdict:
    facts = _facts(log_tail, events)
    baseline = _as_snapshot(baseline)
    sig = signal_of(exit_code)
    if sig is None and exit_code is None and any(f.what == "killed-word" for f in facts.findings):
        sig = _signal.SIGKILL  # a shell printed "Killed": its child got SIGKILL
    status = facts.end.status if facts.end is not None else None
    moment = say.when(facts.last_step, facts.started)
    limit_mb = config.host_memory_limit if config else None
    if host_total is None and baseline is not None:
        host_total = baseline.host.total_bytes
    if peak_rss is None:
        peak_rss = _peak_rss_from_events(facts)

    # What ran, as its kind names it: "the trainer", "your script" (the script: "the script crashed").
    ran = kind_for(config)
    who, process, script = ran.subject, say.capital(ran.process), ran.user_code
    # A script goes on after a stopped fit() and may exit 0: its run_end says it was stopped.
    if (exit_code == ExitCode.FINISHED and status != "stopped") or (exit_code is None and status == "finished"):
        steps = f" after {step_count(facts.end.steps)}" if facts.end is not None else ""
        if script and not facts.saw_fit:
            return _verdict(FINISHED, "The command finished (exit 0); no Keras fit() was seen, so it reported "
                            "no steps.", facts)
        return _verdict(FINISHED, f"Training finished{steps}.", facts)
    if exit_code == ExitCode.STOPPED or sig == _signal.SIGINT or status == "stopped" or _interrupted(facts):
        return _verdict(STOPPED, f"Training was stopped by the user{moment}.", facts)

    backend = backend_of_run(log_tail, config)
    # The verdict names the backend where it matters: where it is not
    # TensorFlow, whose terms the sentences and remedies use by default.
    named = {"backend": backend} if backend in ("jax", "torch") else {}
    present = {f.what for f in facts.findings}

    kind = memory_kind(facts.findings, facts.oom)
    if kind is not None:
        details = {**merged_details(facts.findings, facts.oom), **named}
        host_abort = next((f.what for f in facts.findings if f.what in _HOST_ABORTS), None)
        if kind == HOST_OOM and "oom-killer" in present:
            text = say.oom_killer_sentence(details.get("peak_rss"), moment, who)
        elif kind == HOST_OOM and host_abort and "requested_bytes" not in details:
            text = say.host_abort_sentence(host_abort, moment, limit_mb, who)
        else:
            text = say.oom_sentence(kind, details, moment, limit_mb)
        if kind in _GPU_OOMS | {OTHER_PROCESSES} and (held := other_holders(baseline, details.get("device"))):
            details["other_processes"] = held[2]
            details["other_bytes"] = held[0]
            text = say.others_sentence(details.get("device"), held[0], held[1], held[2], text)
            kind = OTHER_PROCESSES
        return _verdict(kind, text, facts, details, config)

    if library_problem(facts.findings):
        mismatch = "a version mismatch is named" if "library" in present else None
        return _verdict(LIBRARY_ERROR, say.library_sentence(mismatch, moment), facts, dict(named), config)

    if sig == _signal.SIGKILL:
        high = rss_share(peak_rss, host_total, limit_mb)
        if high is not None:
            details = {"signal": 9, "peak_rss": high[0], "ceiling": high[1]}
            text = say.killed_for_memory(high[0], high[1], high[2], signal_name(9), moment, who)
            extra = (f"{ran.process.removeprefix('the ')} peak RSS {high[0]:,} bytes of {high[1]:,} ({high[2]})",)
            return _verdict(HOST_OOM, text, facts, details, config, extra)
        if "shuffle" in present:
            # Killed while a shuffle buffer filled host memory: the OOM killer.
            text = say.shuffle_killed_sentence(signal_name(9), moment, who)
            return _verdict(HOST_OOM, text, facts, {"signal": 9, **named}, config)
    if sig is not None:
        text = (f"{say.capital(who)} was killed by {signal_name(sig)}{moment} with no sign of memory trouble "
                "in its log or memory use.")
        return _verdict(KILLED, text, facts, {"signal": sig}, extra=_last_lines(log_tail))

    exc = _exception(facts)
    if exc is not None and exit_code == ExitCode.BAD_INPUT and not script:
        # The trainer's own refusal (bad data or config) is not a crash.
        message = (exc[1] or exc[0]).rstrip(".")
        return _verdict(NOT_OOM, f"The trainer refused its input: {message}.", facts,
                        {"exception": exc[0], "message": exc[1], "exit_code": 2})
    if exc is not None:
        name, message = exc
        if script:  # Keras' messages run to many lines (and colour codes): one line of them
            message = _one_line(message)
        said = f": {message}" if message else ""
        text = f"{process} crashed with {name}{said} (not an out-of-memory error)."
        details: dict = {"exception": name, "message": message}
        where = _script_line(log_tail, facts, config) if script else None
        if where is not None:
            details["where"] = where
        return _verdict(NOT_OOM, text, facts, details, extra=(f"in your script: {where}",) if where else ())
    if exit_code == ExitCode.OOM or status == "oom":
        text = f"{say.capital(who)} reported running out of memory{moment}, but the log does not say where."
        return _verdict(PROBABLE_OOM, text, facts, {}, config)
    if exit_code == ExitCode.BAD_INPUT and not script:
        last = _last_lines(log_tail, 1)
        said = f": {last[0]}" if last else ""
        return _verdict(NOT_OOM, f"The trainer refused its input{said}.", facts, {"exit_code": 2}, extra=last)
    if exit_code is not None:
        text = f"{process} exited with code {exit_code}{moment} and the log shows no out-of-memory error."
        return _verdict(NOT_OOM, text, facts, {"exit_code": exit_code}, extra=_last_lines(log_tail))
    return _verdict(NOT_OOM, "The log shows no out-of-memory error and no exception; without an exit code "
                    "it cannot tell how the run ended.", facts, extra=_last_lines(log_tail))


def _as_snapshot(baseline: object) -> Snapshot | None:
    """A baseline read back from meta.json is a plain mapping; accept it."""
    if baseline is None or isinstance(baseline, Snapshot):
        return baseline
    if isinstance(baseline, dict):
        from tui.telemetry.jsonform import snapshot_from_dict

        try:
            return snapshot_from_dict(baseline)
        except ValueError:
            return None
    return None


def _interrupted(facts: _Facts) -> bool:
    """A KeyboardInterrupt traceback is the last word of the log."""
    excs = [f for f in facts.findings if f.what == "exception"]
    return bool(excs) and excs[-1].details.get("exception") == "KeyboardInterrupt"


def _exception(facts: _Facts) -> tuple[str, str] | None:
    if facts.error is not None:
        return facts.error.exception, facts.error.message.strip()[:500]
    for f in reversed(facts.findings):
        if f.what == "exception" and not f.details["exception"].endswith("Warning"):
            return f.details["exception"], f.details.get("message", "")
    for f in reversed(facts.findings):
        if f.what in ("check", "fatal-python"):
            return "a fatal error", f.details.get("message", "")
    return None


def _one_line(message: str, limit: int = 300) -> str:
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m|\[[0-9;]*m", "", message).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _script_line(log_tail: str, facts: _Facts, config: RunConfig | None) -> str | None:
    """The user's own file and line where their script crashed (the last traceback in
    its log, else the one the hook reported with its error event)."""
    workdir = kind_for(config).workdir(config) if config is not None else None
    found = user_frame(log_tail or "", workdir)
    if found is None and facts.error is not None:
        found = user_frame(facts.error.traceback, workdir)
    return found


def _peak_rss_from_events(facts: _Facts) -> int | None:
    """The trainer's own CPU RSS peak when it reported one (CPU runs only:
    a GPU run's peaks are device memory)."""
    if facts.last_step is not None:
        value = facts.last_step.memory.get("cpu_rss_peak")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _last_lines(text: str, n: int = 2) -> tuple[str, ...]:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip() and not ln.startswith("    @")]
    return tuple(ln[:600] for ln in lines[-n:])


def _verdict(kind: str, text: str, facts: _Facts, details: dict | None = None,
             config: RunConfig | None = None, extra: tuple[str, ...] = ()) -> Verdict:
    return Verdict(
        kind=kind,
        summary=text,
        evidence=_evidence(facts.findings, kind, extra),
        details=dict(details or {}),
        remedies=rank(kind, details or {}, config, facts.started),
    )


def _evidence(findings: list[Finding], kind: str, extra: tuple[str, ...]) -> tuple[str, ...]:
    """Up to five distinct log lines, most telling first (the latest of equals
    first). Warnings only accompany a memory verdict or a finish."""
    keep_warnings = kind not in (NOT_OOM, STOPPED, KILLED)
    kept = [(i, f) for i, f in enumerate(findings)
            if f.what not in HINTS and (keep_warnings or f.what not in NON_FATAL)]
    ranked = [f for _, f in sorted(kept, key=lambda pair: (-WEIGHT[pair[1].what], -pair[0]))]
    out: list[str] = list(extra)
    seen: set[tuple[str, str]] = set()
    for f in ranked:
        if len(out) >= MAX_EVIDENCE:
            break
        # The same OOM is echoed by the kernel, the rendezvous and the
        # exception: one line of it is evidence, four are noise.
        same = (f.what, repr(sorted(f.details.items()))) if f.details else (f.what, f.line)
        if f.line not in out and same not in seen:
            seen.add(same)
            out.append(f.line)
    return tuple(out[:MAX_EVIDENCE])
