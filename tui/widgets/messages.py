"""Messages that carry data from background threads into the event loop."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from tui.telemetry.snapshot import Snapshot


class SnapshotArrived(Message):
    """A telemetry snapshot from the sampler thread; only the newest matters."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SnapshotArrived)


class NoticeArrived(Message):
    """A supervisor notice (attempt started/ended, event batch, problem)."""

    def __init__(self, notice: Any) -> None:
        super().__init__()
        self.notice = notice
