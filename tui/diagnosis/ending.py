"""How an attempt ended: its verdict and its state, decided together.

The watcher (tui/supervision/watch.py) follows a run until its process is
gone, then hands what it saw to `decide`: the reaper's exit record, a verdict
another memtui stored, what was asked (a stop), and what the diagnosis needs.
The state shown in the header is the verdict's own (`state_of_verdict`), so
the two never disagree: a stop that ends in SIGTERM is "stopped" in both.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.common.states import state_of_verdict
from tui.common.verdict import KILLED, NOT_OOM, Remedy, Verdict

DISK_LOW = 64 * 1024  # less than this free: the disk is full for our purposes


@dataclass(frozen=True)
class Ending:
    state: str  # the attempt's state: the verdict's, or "unknown" when nothing recorded the end
    verdict: Verdict
    exit_code: int | None
    fresh: bool  # the verdict was made now (not read back from the run folder): it is to be written
    problem: str | None = None  # the diagnosis failed: why, in one line (the verdict says so too)


def decide(*, exit_info: Mapping[str, Any] | None, stored: Verdict | None, run_path: Path, stop_asked: bool,
           diagnose: Callable[..., Verdict], **evidence: Any) -> Ending:
    """The ending of an attempt whose process is gone. `evidence`: the diagnosis'
    inputs besides the exit code (log tail, events, config, baseline, RSS peak)."""
    info = exit_info or {}
    code = info.get("returncode")
    exit_code = code if isinstance(code, int) else None
    if stored is not None:
        return Ending(state_of_verdict(stored), stored, exit_code, fresh=False)
    problem = None
    try:
        verdict = diagnose(exit_code=exit_code, stop_asked=stop_asked, **evidence)
    except Exception as exc:  # the attempt must still end on screen
        problem = f"diagnosis failed: {type(exc).__name__}: {exc}"
        verdict = Verdict(KILLED if (exit_code or 0) < 0 else NOT_OOM,
                          f"the trainer ended with exit {exit_code}; the diagnosis failed")
    if verdict.kind == NOT_OOM:
        verdict = disk_full_verdict(run_path) or verdict
    recorded = bool(exit_info) or bool(verdict.details.get("disk_full"))
    state = state_of_verdict(verdict) if recorded else _unknown(verdict)
    return Ending(state, verdict, exit_code, fresh=True, problem=problem)


def disk_full_verdict(run_path: Path) -> Verdict | None:
    """The verdict for a run whose folder's disk has no room left, else None.
    With the disk full, neither the trainer's traceback nor the reaper's exit
    record could be written, so the log alone would explain nothing."""
    try:
        fs = os.statvfs(run_path)
    except OSError:
        return None
    free = fs.f_bavail * fs.f_frsize
    if free >= DISK_LOW:
        return None
    # The fix is a remedy line of its own, so a short screen that cuts the
    # summary still shows it.
    fix = Remedy("free-disk", "free some space, or choose another folder with --runs-dir",
                 f"{run_path.parent} has {free:,} bytes free")
    return Verdict(NOT_OOM, f"The disk holding the run folder is full ({free:,} bytes free under "
                   f"{run_path.parent}): the trainer could not write its events or its log, and how it ended "
                   "could not be recorded. Free some space, or choose another folder with --runs-dir.",
                   details={"disk_full": True, "free_bytes": free, "runs_dir": str(run_path.parent)},
                   remedies=(fix,))


def _unknown(verdict: Verdict) -> str:
    """No exit.json: the reaper died too. Keep what the events said, else `unknown`."""
    state = state_of_verdict(verdict)
    return state if state in ("finished", "stopped", "oom") else "unknown"
