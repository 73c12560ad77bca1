"""The step log: one line per step, with the newest step in its bottom border.

Two places, two rates. The bottom border (`show_newest`) carries the newest
step as soon as it arrives: that one row is painted straight to the terminal
(`tui/widgets/rowpaint.py`), without a Textual frame, so the screen shows each
step within the latency goal for a fraction of a frame's cost.

The scrolling log itself catches up in batches, because each write scrolls
and repaints every visible row. The screen's once-a-second tick calls `flush`,
so the log, the header, the gauges and the history share one frame a second;
the log's own timer (a little later than the tick) only matters where nothing
ticks, as in a bare app. A line arriving after a quiet spell (no write for
LOG_PERIOD) is written at once, so slow runs, run starts and endings show
without waiting.
"""

from __future__ import annotations

import time

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.content import Content
from textual.geometry import Region, Size
from textual.reactive import Reactive
from textual.strip import Strip
from textual.timer import Timer

from tui.ui import textual_internals as internals
from tui.ui.widgets.rowpaint import RowPainter

LOG_PERIOD = 1.0
# The log's own timer waits this much longer than LOG_PERIOD, so the screen's
# tick (every LOG_PERIOD) flushes first and the two never make two frames.
FALLBACK_SLACK = 0.5
MAX_LINES = 2000
NEWEST_LABEL = "newest "
LABEL_MARGIN = 6  # border cells around the bottom label: corners, a rule each side, a space each side


class StepLog(internals.LogHooks):
    """Log's look and behaviour at a fraction of its cost; when Textual's
    internals are not where `tui/ui/textual_internals.py` expects them, a plain
    Log (with the newest step still in the border, drawn by Textual)."""

    DEFAULT_CSS = "StepLog { height: 1fr; min-height: 3; }"

    # Log's virtual size asks for a layout of the whole screen on every write
    # (five times the cost of the repaint itself) and a repaint of the whole
    # widget, border and title included. The log's own height is 1fr, so its
    # line count never moves another widget: only its scrollbar needs updating,
    # done in the watcher below (a scrollbar appearing or going away still asks
    # for a layout through `show_vertical_scrollbar`), and `flush` repaints the
    # rows inside the border. With plain rendering the watcher asks for the
    # layout and repaint Log's virtual size does.
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False, repaint=False)

    def __init__(self, **kwargs: object) -> None:
        self._bottom_row_only = False
        super().__init__(max_lines=MAX_LINES, auto_scroll=True, **kwargs)  # type: ignore[arg-type]
        self._pending: list[str] = []
        self._last_flush = 0.0
        self._timer: Timer | None = None
        self.newest: str | None = None
        self._newest_label = ""  # the text of the border label, as painted
        self.painter = RowPainter(self)
        self.on_view = True  # False while the screen shows the plots in the log's place
        # Until mounted, and for good when Textual's internals are not as expected: Log's way.
        self.fast = False

    def on_mount(self) -> None:
        self.fast = internals.usable(self)
        # Log measures each batch's widest line in a thread worker (a thread hop,
        # worker-state messages and a second virtual-size change per write) only
        # to size horizontal scrolling, which this log hides (overflow-x: hidden).
        self.measure_width = not self.fast

    def watch_virtual_size(self, size: Size) -> None:
        if not self.fast:
            self.refresh(layout=True)
        elif self.is_mounted and self.container_size:
            internals.update_scrollbars(self, size)

    def line_strip(self, y: int, rich_style: Style) -> Strip | None:
        """Line `y` as one segment in the log's style, kept in Log's line cache.
        Log itself keeps a line only while text is selected, so each frame made
        every visible line anew through a rich Text and the console (~0.15 ms a
        line here); our lines carry no markup or highlighting to need that.
        The cache is Log's: cleared on a style change, shifted when lines are
        pruned. With a selection (or plain rendering), Log's own rendering paints it."""
        if not self.fast or self.text_selection is not None:
            return None
        strip = self.cached_line(y)
        if strip is None:
            text = self.line_text(y)
            strip = Strip([Segment(text, rich_style)] if text else [], cell_len(text))
            self.cache_line(y, strip)
        return strip

    def show_newest(self, line: str | None) -> None:
        """Put `line` (None: nothing) in the bottom border, repainting only that row."""
        if line == self.newest:
            return
        self.newest = line
        # Setting a border title repaints the whole widget; `refresh` below
        # paints just the bottom border row, straight away when it can.
        self._bottom_row_only = True
        try:
            # Plain Content: no markup to parse (20 times a second), none to escape.
            label = "" if line is None else NEWEST_LABEL + " ".join(line.split())
            # Cut to the border's room here rather than leave Textual to end it in "…":
            # a label cut to the same width each step is swapped into the painted
            # row (rowpaint) instead of rendering the border again.
            room = self.outer_size.width - LABEL_MARGIN
            self._newest_label = label[:room] if room > 0 and len(label) > room else label
            self.border_subtitle = Content(self._newest_label) if line is not None else None
        finally:
            self._bottom_row_only = False

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False,
                recompose: bool = False) -> StepLog:
        if self._bottom_row_only and not self.on_view:
            return self  # hidden (the plots in its place): shown again, it is painted whole
        if self._bottom_row_only and self.is_mounted and not regions:
            outer = self.outer_size
            if self.painter.paint(outer.height - 1, self._newest_label):
                return self
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
        since = time.monotonic() - self._last_flush
        if since >= LOG_PERIOD:
            self.flush()
        else:
            self._timer = self.set_timer(LOG_PERIOD + FALLBACK_SLACK - since, self.flush, name="steplog-flush")

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
