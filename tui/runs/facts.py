"""Words and figures about runs that need no folder: states, peaks, the config
in a few words, and the summary row of `memtui runs`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tui.common.verdict import Remedy, Verdict


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
    # Folders written before the keys left the diagnosis also carry a `key`: read past it.
    remedies = tuple(Remedy(r["id"], r["title"], r["why"]) for r in data.get("remedies", ()))
    return Verdict(kind=data["kind"], summary=data["summary"], evidence=tuple(data.get("evidence", ())),
                   details=dict(data.get("details", {})), remedies=remedies)


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
    kind: str = "builtin"  # "script": the user's own command (tui.kinds)
    command: str | None = None  # that command, as typed
    backend: str | None = None  # the Keras backend of the config ("tensorflow", "jax"); None when unreadable
    not_applied: list[str] = field(default_factory=list)  # what the script hook could not apply, in words
    in_force: list[str] = field(default_factory=list)  # what memtui changes in a script from outside, in words
    workers: list[dict[str, Any]] = field(default_factory=list)  # a group's workers (tui/runs/ranks.py); [] for one

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate_of(meta: dict[str, Any]) -> int | None:
    pre = meta.get("preflight")
    if not isinstance(pre, dict):
        return None
    value = pre.get("calibrated_bytes") or pre.get("predicted_bytes")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
