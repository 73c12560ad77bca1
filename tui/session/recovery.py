"""Automatic recovery: after an out-of-memory ending, choose the next attempt.

The screen and headless mode share this object. It decides and records; the
caller launches. Every decision climbs one rung of the ladder in
`tui.remedies.ladder.next_rung`, so the number of relaunches is bounded by the ladder,
by --min-batch and by --max-attempts, and a config that was already tried is
never launched again: nothing loops.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainer.config import RunConfig
from tui.common.verdict import Verdict
from tui.kinds import BATCH, kind_for, kind_of
from tui.remedies.changes import Change
from tui.remedies.ladder import next_rung

if TYPE_CHECKING:
    from tui.supervision.supervisor import AttemptInfo

# next_rung is asked again when it proposes a config that already ran; the
# ladder has a handful of rungs, so this many asks always reach its end.
_MAX_ASKS = 64


@dataclass(frozen=True)
class RecoveryStep:
    """One climb of the ladder: which attempt ran out of memory and what follows."""

    after_attempt: int
    run_id: str
    verdict_kind: str
    rung: str
    reason: str
    config: RunConfig

    def to_dict(self) -> dict[str, Any]:
        return {
            "after_attempt": self.after_attempt,
            "run_id": self.run_id,
            "verdict_kind": self.verdict_kind,
            "rung": self.rung,
            "reason": self.reason,
            "config": self.config.to_dict(),
        }


class Recovery:
    """The auto-recovery policy for one chain of attempts.

    `enabled` may be toggled at any time (a key in the screen). `gave_up`
    holds the plain sentence once the policy stops relaunching.
    """

    def __init__(self, enabled: bool, min_batch: int = 1, max_attempts: int = 8) -> None:
        if min_batch < 1:
            raise ValueError(f"--min-batch must be at least 1, got {min_batch}")
        if max_attempts < 1:
            raise ValueError(f"--max-attempts must be at least 1, got {max_attempts}")
        self.enabled = enabled
        self.min_batch = min_batch
        self.max_attempts = max_attempts
        self.steps: list[RecoveryStep] = []
        self.tried: list[str] = []
        self.gave_up: str | None = None
        self.attempts = 0  # attempts that ended in this chain
        self._seen: set[str] = set()

    def reset(self) -> None:
        """Start a new chain (the user launched by hand); the history stays."""
        self.tried = []
        self.gave_up = None
        self.attempts = 0
        self._seen = set()

    def on_end(self, attempt: AttemptInfo, verdict: Verdict) -> Change | None:
        """The next attempt's config and reason, or None to stop here."""
        self.attempts += 1
        config = attempt.config
        if config is None or not verdict.is_oom or not self.enabled or self.gave_up is not None:
            # No config: an attached run whose folder lost it; nothing to climb from.
            return None
        self._seen.add(_key(config))
        if self.attempts >= self.max_attempts:
            self.gave_up = (
                f"Gave up after {self.attempts} attempts: --max-attempts {self.max_attempts} was reached "
                "and the last attempt still ran out of memory."
            )
            return None
        change = self._climb(config, verdict.kind)
        if change is None:
            self.gave_up = self._exhausted(config)
            return None
        rung = change.id
        self.tried.append(rung)
        self.steps.append(
            RecoveryStep(
                after_attempt=attempt.number,
                run_id=attempt.run_id,
                verdict_kind=verdict.kind,
                rung=rung,
                reason=change.reason,
                config=change.config,
            )
        )
        self._seen.add(_key(change.config))
        return change

    def _climb(self, config: RunConfig, kind: str) -> Change | None:
        tried = list(self.tried)
        for _ in range(_MAX_ASKS):
            change = next_rung(config, tried, self.min_batch, kind=kind)
            if change is None:
                return None
            new = change.config
            if config.backup_dir is not None and new.backup_dir != config.backup_dir:
                # The backup is how a relaunch resumes where the last one stopped.
                new = new.replace(backup_dir=config.backup_dir)
                change = dataclasses.replace(change, config=new)
            if _key(new) not in self._seen:
                return change
            tried.append(change.id)
        return None

    def _exhausted(self, config: RunConfig) -> str:
        batch, floor = config.batch_size, self.min_batch
        kind = kind_of(config)
        if not kind.allows(BATCH):
            where = f"the batch cannot be changed ({kind.why_not(BATCH)})"
        elif batch == floor:
            where = f"the batch is at --min-batch {floor}"
        elif batch < floor:
            where = f"the batch is {batch}, already below --min-batch {floor}"
        else:
            where = f"the batch is {batch} and halving it would go below --min-batch {floor}"
        return (
            f"Gave up after {self.attempts} attempt{'s' if self.attempts != 1 else ''}: "
            f"{where} and every remedy on the ladder was tried."
        )


def _key(config: RunConfig) -> str:
    """A config's identity for "already tried", ignoring where backups live and
    what a script's fit() was seen to report."""
    return kind_for(config).identity(config).replace(backup_dir=None).to_json()
