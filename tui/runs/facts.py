"""Words and figures about runs that need no folder: states, peaks, the config
in a few words, and the summary row of `memtui runs`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from trainer.config import RunConfig
from tui.common.verdict import FINISHED, KILLED, OOM_KINDS, STOPPED, Remedy, Verdict

# Attempt states (AttemptInfo.state, RunSummary.state) and their words.
STATE_WORDS = {
    "starting": "starting", "training": "training", "stopping": "stopping", "live": "live",
    "finished": "finished", "stopped": "stopped", "oom": "out of memory", "crashed": "crashed",
    "killed": "killed", "unknown": "ended, exit unknown", "damaged": "damaged",
}
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
    return {0: "finished", 3: "oom", 130: "stopped"}.get(returncode, "crashed")


def peak_of(memory: dict[str, Any]) -> int | None:
    """The largest `peak` (else `current`/`rss`) byte count anywhere in a step's memory dict.

    The trainer reports per-GPU dicts or the host RSS; this reads either."""
    peaks: list[int] = []
    others: list[int] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    key_l = str(key).lower()
                    if "peak" in key_l:
                        peaks.append(int(value))
                    elif key_l.startswith(("current", "rss", "bytes_in_use")):
                        others.append(int(value))
                else:
                    walk(value)

    walk(memory)
    found = peaks or others
    return max(found) if found else None


def verdict_from_dict(data: dict[str, Any]) -> Verdict:
    remedies = tuple(Remedy(**r) for r in data.get("remedies", ()))
    return Verdict(kind=data["kind"], summary=data["summary"], evidence=tuple(data.get("evidence", ())),
                   details=dict(data.get("details", {})), remedies=remedies)


def config_summary(cfg: RunConfig) -> str:
    """The settings that decide memory, in a few words: `small b32 256px growth fp16 ×4`."""
    parts = [cfg.model, f"b{cfg.batch_size}", f"{cfg.image_size}px"]
    if cfg.memory_growth:
        parts.append("growth")
    if cfg.gpu_memory_limit:
        parts.append(f"cap{cfg.gpu_memory_limit}M")
    if cfg.mixed_precision:
        parts.append("fp16")
    if cfg.grad_accum > 1:
        parts.append(f"×{cfg.grad_accum}")
    if cfg.strategy != "default":
        parts.append(cfg.strategy)
    return " ".join(parts)


@dataclass(frozen=True)
class RunSummary:
    """One line of `memtui runs`."""

    id: str
    path: str
    started: float | None
    config: str
    state: str
    status: str
    steps: int
    peak_memory: int | None
    live: bool
    damaged: str | None
    session: str | None
    attempt: int | None
    estimate: int | None = None  # the pre-flight's predicted peak (calibrated when it could be)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate_of(meta: dict[str, Any]) -> int | None:
    pre = meta.get("preflight")
    if not isinstance(pre, dict):
        return None
    value = pre.get("calibrated_bytes") or pre.get("predicted_bytes")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
