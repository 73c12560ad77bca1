"""The step log: one line per step, with the newest step in its bottom border.

Two places, two rates. The bottom border (`show_newest`) carries the newest
step as soon as it arrives: repainting that one row is cheap, so the screen
shows each step within the latency goal. The scrolling log itself catches up
in batches, at most one `write_lines` per LOG_PERIOD (two a second),
because each write scrolls and repaints every visible row: at ten writes a
second that repaint was most of the screen's CPU at 20 steps/s.

A line arriving after a quiet spell (no write for LOG_PERIOD) is written at
once, so slow runs, run starts and endings show without waiting; otherwise
lines wait for the period to close and go out together.
"""

from __future__ import annotations

import time

from textual.geometry import Region, Size
from textual.markup import escape
from textual.reactive import Reactive
from textual.timer import Timer
from textual.widgets import Log

LOG_PERIOD = 0.5
MAX_LINES = 2000
NEWEST_LABEL = "newest "


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
        self._bottom_row_only = False
        super().__init__(max_lines=MAX_LINES, auto_scroll=True, **kwargs)  # type: ignore[arg-type]
        self._pending: list[str] = []
        self._last_flush = 0.0
        self._timer: Timer | None = None
        self.newest: str | None = None

    def watch_virtual_size(self, size: Size) -> None:
        if self.is_mounted and self.container_size:
            self._scroll_update(size)

    def _update_size(self, updates: int, lines: list[str]) -> None:
        # Log measures each batch's widest line in a thread worker (a thread hop,
        # worker-state messages and a second virtual-size change per write) only
        # to size horizontal scrolling, which this log hides (overflow-x: hidden).
        return

    def show_newest(self, line: str | None) -> None:
        """Put `line` (None: nothing) in the bottom border, repainting only that row."""
        if line == self.newest:
            return
        self.newest = line
        # Setting a border title repaints the whole widget; `refresh` below
        # narrows that one call to the bottom border row.
        self._bottom_row_only = True
        try:
            self.border_subtitle = None if line is None else NEWEST_LABEL + escape(" ".join(line.split()))
        finally:
            self._bottom_row_only = False

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False,
                recompose: bool = False) -> StepLog:
        if self._bottom_row_only and self.is_mounted and not regions:
            outer = self.outer_size
            # Regions are relative to the content; the border row lies outside it.
            regions = (Region(0, outer.height - 1, outer.width, 1).translate(-self.content_offset),)
        super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
        return self

    def add(self, line: str) -> None:
        self._pending.append(line)
        if len(self._pending) > MAX_LINES:
            # Older lines would be pruned by max_lines anyway; drop them before writing.
            del self._pending[: len(self._pending) - MAX_LINES]
        if self._timer is not None:
            return  # the batch already waiting goes out when its period closes
        wait = self._last_flush + LOG_PERIOD - time.monotonic()
        if wait <= 0:
            self.flush()
        else:
            self._timer = self.set_timer(wait, self.flush, name="steplog-flush")

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
