"""What one process's hook holds: the settings, the writer, the ledger, the counters."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from _memtui_hook.ledger import Ledger
from _memtui_hook.report import Problems


@dataclass
class HookState:
    settings: Any  # trainer/hookspec.py's HookSettings (loaded by path)
    writer: Any  # trainer/eventlog.py's EventLog, writing only from `owner`
    problems: Problems = field(default_factory=Problems)
    ledger: Ledger = field(default_factory=Ledger)
    owner: int = field(default_factory=os.getpid)
    phase: int = 0  # fit() calls (and training loops) so far
    global_steps: int = 0  # steps finished over all phases
    stop_requested: bool = False
    in_fit: bool = False  # a fit() inside fit() (a subclass calling super().fit) is not a new phase
    notes: list[str] = field(default_factory=list)  # what was applied, in words, for run_start
    loop: Any = None  # the LoopWatch, once an optimizer updates outside fit()
    policy_before: str | None = None  # the dtype policy before memtui set mixed_float16 (None: it did not)

    def active(self) -> bool:
        """Only the process that started the hook reports (not forked workers)."""
        return os.getpid() == self.owner

    def fault(self, point: str) -> bool:
        """Whether a test asked this injection point to fail (trainer/hookspec.py's FAULTS)."""
        return point in (self.settings.fault or "").split(",")

    def refuse(self, change: str, why: str, asked: bool, phase: int | None = None) -> None:
        self.ledger.refuse(change, why, asked, phase)
