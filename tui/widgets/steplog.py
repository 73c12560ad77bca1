"""The step log: one line per step, written about ten times a second with one
`write_lines`, so a trainer at 1,000 events/s costs ten-odd repaints a second,
not a thousand.

Two rules decide when pending lines are written. A line arriving after a
quiet spell (no write for FLUSH_SECONDS) is written at once, so slow runs show
steps without waiting. Otherwise no line waits longer than MAX_WAIT: at 20
steps/s that writes every other step together with the one before it, ten
writes a second, each step on screen within MAX_WAIT. (A free-running 10 Hz
timer made lines wait up to a whole period and woke the loop when nothing was
pending.)
"""

from __future__ import annotations

import time

from textual.geometry import Size
from textual.reactive import Reactive
from textual.timer import Timer
from textual.widgets import Log

FLUSH_SECONDS = 0.1
MAX_WAIT = 0.06
MAX_LINES = 2000


class StepLog(Log):
    DEFAULT_CSS = "StepLog { height: 1fr; min-height: 3; }"

    # Log's virtual size asks for a layout of the whole screen on every write
    # (five times the cost of the repaint itself) and a repaint of the whole
    # widget, border and title included. The log's own height is 1fr, so its
    # line count never moves another widget: only its scrollbar needs updating,
    # done in the watcher below (a scrollbar appearing or going away still asks
    # for a layout through `show_vertical_scrollbar`), and `flush` repaints the
    # rows inside the border.
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False, repaint=False)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_lines=MAX_LINES, auto_scroll=True, **kwargs)  # type: ignore[arg-type]
        self._pending: list[str] = []
        self._last_flush = 0.0
        self._timer: Timer | None = None

    def watch_virtual_size(self, size: Size) -> None:
        if self.is_mounted and self.container_size:
            self._scroll_update(size)

    def _update_size(self, updates: int, lines: list[str]) -> None:
        # Log measures each batch's widest line in a thread worker (a thread hop,
        # worker-state messages and a second virtual-size change per write) only
        # to size horizontal scrolling, which this log hides (overflow-x: hidden).
        return

    def add(self, line: str) -> None:
        self._pending.append(line)
        if len(self._pending) > MAX_LINES:
            # Older lines would be pruned by max_lines anyway; drop them before writing.
            del self._pending[: len(self._pending) - MAX_LINES]
        if time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self.flush()
        elif self._timer is None:  # the first line waiting: it waits MAX_WAIT at most
            self._timer = self.set_timer(MAX_WAIT, self.flush, name="steplog-flush")

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._pending:
            self._last_flush = time.monotonic()
            lines, self._pending = self._pending, []
            self.write_lines(lines)
            # Once max_lines is reached, Log prunes the oldest lines but repaints
            # only the rows of the new ones at their pre-prune index, and the
            # scroll offset no longer moves: without this the log froze after
            # MAX_LINES lines and never showed another step.
            self.refresh(self.size.region)

    def on_resize(self) -> None:
        # The verdict panel opening shrinks the log; keep the newest lines in view.
        if self.auto_scroll:
            self.scroll_end(animate=False, immediate=True)
