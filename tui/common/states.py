"""The states of an attempt, named once, and how an ending maps onto them."""

from __future__ import annotations

from trainer.protocol import ExitCode
from tui.common.verdict import FINISHED, KILLED, OOM_KINDS, STOPPED, Verdict

# Attempt states (AttemptInfo.state, RunSummary.state) and their words.
STATE_WORDS = {
    "starting": "starting", "training": "training", "stopping": "stopping", "live": "live",
    "finished": "finished", "stopped": "stopped", "oom": "out of memory", "crashed": "crashed",
    "killed": "killed", "unknown": "ended, exit unknown", "damaged": "damaged",
}
LIVE_STATES = frozenset({"starting", "training", "stopping"})
ENDED_STATES = frozenset({"finished", "stopped", "oom", "crashed", "killed", "unknown"})


def state_of_verdict(verdict: Verdict) -> str:
    if verdict.kind == FINISHED:
        return "finished"
    if verdict.kind == STOPPED:
        return "stopped"
    if verdict.kind in OOM_KINDS:
        return "oom"
    if verdict.kind == KILLED:
        return "killed"
    return "crashed"  # NOT_OOM, and any kind added later


def state_of_exit(returncode: int | None) -> str:
    """The state an exit status implies when nothing better is known."""
    if returncode is None:
        return "unknown"
    if returncode < 0:
        return "killed"
    return {ExitCode.FINISHED: "finished", ExitCode.OOM: "oom", ExitCode.STOPPED: "stopped"}.get(returncode, "crashed")
