"""The step log: one line per step, written at most about ten times a second
with one `write_lines`, so a trainer at 1,000 events/s costs ten repaints a
second, not a thousand. The throttle is leading-edge: a line arriving after a
quiet spell is written at once, so slow runs show steps without waiting."""

from __future__ import annotations

import time

from textual.widgets import Log

FLUSH_SECONDS = 0.1
MAX_LINES = 2000


class StepLog(Log):
    DEFAULT_CSS = "StepLog { height: 1fr; min-height: 3; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_lines=MAX_LINES, auto_scroll=True, **kwargs)  # type: ignore[arg-type]
        self._pending: list[str] = []
        self._last_flush = 0.0

    def on_mount(self) -> None:
        self.set_interval(FLUSH_SECONDS, self.flush)

    def add(self, line: str) -> None:
        self._pending.append(line)
        if len(self._pending) > MAX_LINES:
            # Older lines would be pruned by max_lines anyway; drop them before writing.
            del self._pending[: len(self._pending) - MAX_LINES]
        if time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._last_flush = time.monotonic()
            lines, self._pending = self._pending, []
            self.write_lines(lines)

    def on_resize(self) -> None:
        # The verdict panel opening shrinks the log; keep the newest lines in view.
        if self.auto_scroll:
            self.scroll_end(animate=False, immediate=True)
