"""What memtui changed in the script, and what it did not change and why.

Every change the hook makes to a script has an id. A change memtui could not
apply safely is refused: the script's own call runs as written, and the
ledger keeps the reason in words. A remedy the user asked for (a flag, a key,
the recovery ladder) is `asked`: its refusal says so plainly, it is never
silently dropped. memtui's own additions (the event callback, the resume
backup, the stop on SIGINT) say they are off. run_start carries the words
(`notes`) and the records (`not_applied`); the monitor shows them in the
step log, the verdict, the headless JSON and the run's summary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# The change ids and how they read in a sentence.
LABELS = {
    "events": "memtui's step events",
    "backup": "memtui's resume backup",
    "stop-on-signal": "memtui's graceful stop on SIGINT",
    "batch": "the batch change",
    "grad-accum": "gradient accumulation",
    "mixed-precision": "mixed precision",
    "jit-compile": "XLA off (jit_compile=False)",
    "gpu-cap": "the GPU memory cap",
    "memory-growth": "memory growth",
    "loop-steps": "steps of the training loop",
    "framework": "a framework internal",
}


@dataclass(frozen=True)
class NotApplied:
    change: str
    why: str
    asked: bool
    phase: int | None  # the fit() call it concerns; None: the whole process

    def words(self) -> str:
        label = LABELS.get(self.change, self.change)
        if self.asked:
            return f"{label} was asked for but not applied: {self.why}"
        return f"{label} off: {self.why}"


class Ledger:
    def __init__(self) -> None:
        self.refusals: list[NotApplied] = []

    def refuse(self, change: str, why: str, asked: bool, phase: int | None = None) -> None:
        entry = NotApplied(change, why, asked, phase)
        if entry not in self.refusals:
            self.refusals.append(entry)

    def for_phase(self, phase: int) -> list[NotApplied]:
        """The refusals of the whole process and of fit() call `phase`."""
        return [r for r in self.refusals if r.phase in (None, phase)]

    def notes(self, phase: int) -> list[str]:
        return [r.words() for r in self.for_phase(phase)]

    def records(self, phase: int) -> list[dict[str, Any]]:
        return [{**asdict(r), "words": r.words()} for r in self.for_phase(phase)]
