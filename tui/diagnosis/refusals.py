"""What memtui could not change in the user's own script, and why.

The script hook applies remedies inside the script (trainer/scripthook). A
change it cannot apply safely to this model or this fit() call is refused:
the script's own call runs as written, and run_start/run_end carry a
`not_applied` record for it (change, why, asked, phase, words). This module
reads those records back for every front end: the verdict's evidence and
details (so the headless JSON and verdict.json carry them), the run's summary
in `memtui runs`, and the step log's end-of-fit lines.

A remedy the user asked for (a flag, a key, the recovery ladder) comes first
and says so: it must never look applied when it was not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from trainer.protocol import Event, RunEnd, RunStart
from tui.common.verdict import Verdict

MAX_LINES = 3  # refusal lines in a verdict's evidence (the rest stay in its details)


@dataclass(frozen=True)
class Refusal:
    change: str  # the hook's change id: "batch", "grad-accum", "mixed-precision", "backup", ...
    why: str
    asked: bool  # the user asked for it (a flag, a key, the ladder): its refusal must be said
    phase: int | None  # the fit() call it concerns; None: the whole process
    words: str  # one sentence for people

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def from_record(record: object) -> Refusal | None:
    """One `not_applied` record as the hook writes it; None for a malformed one."""
    if not isinstance(record, Mapping):
        return None
    change, why = record.get("change"), record.get("why")
    if not isinstance(change, str) or not isinstance(why, str) or not change:
        return None
    asked = record.get("asked") is True
    phase = record.get("phase")
    words = record.get("words")
    if not isinstance(words, str) or not words:
        words = f"{change} was asked for but not applied: {why}" if asked else f"{change} off: {why}"
    return Refusal(change, why, asked, phase if isinstance(phase, int) and not isinstance(phase, bool) else None,
                   words)


def records_of(raw: Mapping[str, Any]) -> list[Refusal]:
    """The refusals one event's raw JSON carries."""
    found = raw.get("not_applied")
    if not isinstance(found, list):
        return []
    return [r for r in map(from_record, found) if r is not None]


def refusals(events: Iterable[Event]) -> tuple[Refusal, ...]:
    """Every distinct refusal of an attempt, in the order seen, asked ones first."""
    seen: dict[tuple[str, str, int | None], Refusal] = {}
    for event in events:
        if isinstance(event, (RunStart, RunEnd)):
            for r in records_of(event.raw):
                seen.setdefault((r.change, r.why, r.phase), r)
    ordered = list(seen.values())
    return tuple(sorted(ordered, key=lambda r: not r.asked))


def evidence_lines(found: Sequence[Refusal]) -> tuple[str, ...]:
    """Lines for a verdict's evidence: what was asked for and not applied, then
    memtui's own additions that were off."""
    return tuple(f"not applied: {r.words}" for r in found[:MAX_LINES])


def with_refusals(verdict: Verdict, events: Sequence[Event]) -> Verdict:
    """`verdict` with the attempt's refusals in its details (`not_applied`) and
    in its evidence: a remedy asked for leads it, memtui's own additions that
    were off come after the log's lines."""
    found = refusals(events)
    if not found:
        return verdict
    details = {**verdict.details, "not_applied": [r.to_dict() for r in found]}
    asked = [r for r in found if r.asked]
    own = [r for r in found if not r.asked]
    evidence = (*evidence_lines(asked), *verdict.evidence, *evidence_lines(own))
    return replace(verdict, details=details, evidence=evidence)


def from_verdict(verdict: Verdict | None) -> tuple[Refusal, ...]:
    """The refusals a stored verdict kept (verdict.json's details)."""
    if verdict is None:
        return ()
    found = verdict.details.get("not_applied")
    if not isinstance(found, list):
        return ()
    return tuple(r for r in map(from_record, found) if r is not None)


def late_lines(run_end: RunEnd, start: RunStart | None) -> list[str]:
    """Step-log lines for refusals run_end knows and its run_start did not say
    (decided inside fit(), e.g. a batch change taken back at its first step)."""
    said = {(r.change, r.why) for r in records_of(start.raw)} if start is not None else set()
    return [f"── not applied: {r.words}" for r in records_of(run_end.raw) if (r.change, r.why) not in said]
