"""What one process's hook holds: the settings, the writer, the counters."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from _memtui_hook.report import EventWriter, Problems


@dataclass
class HookState:
    settings: Any  # trainer/hookspec.py's HookSettings (loaded by path)
    writer: EventWriter
    problems: Problems = field(default_factory=Problems)
    owner: int = field(default_factory=os.getpid)
    phase: int = 0  # fit() calls so far
    global_steps: int = 0  # steps finished over all phases
    stop_requested: bool = False
    in_fit: bool = False  # a fit() inside fit() (a subclass calling super().fit) is not a new phase
    notes: list[str] = field(default_factory=list)  # remedies that could not be applied

    def active(self) -> bool:
        """Only the process that started the hook reports (not forked workers)."""
        return os.getpid() == self.owner
