"""Paint one row of a widget straight to the terminal, without a Textual frame.

Why: at 20 steps a second the step log's bottom border (the newest step)
changes 20 times a second. Each change cost a whole Textual frame: the update
timer, a compositor pass that renders every widget whose container overlaps
the row (Textual filters by the container's clip, not the widget's region, so
at 80x24 that was all seven widgets on the screen), chopping and writing.
Measured here that was ~1.9 ms a frame and most of memtui's own CPU.

What it does instead: the row is rendered by the widget's own styles cache
(same theme, same border, same NO_COLOR/ANSI filters as a frame), and written
as a one-span update in one write, synchronised output included. When only a
label inside the row changed and the new one is as wide as the old, the label
is swapped into the row Textual rendered last time, and into its terminal
text, instead of rendering and styling the border again (most steps: the
numbers change, not their width).

Why it stays right:
- The widget's state changes first (the caller sets the border title), and the
  painted row is put in the widget's styles cache, so a later Textual frame over
  the row paints exactly what is on screen.
- Painting happens on the event loop, in order with Textual's own writes.
- A swapped label is used only while the styles cache still holds the very row
  it came from: a theme change, resize or any repaint Textual does drops it.
- It paints only when the row is really on view and on top: the widget's screen
  is the app's current screen (no modal, help or log view over it), the layout
  is settled, the row is not cut by a container, and no other widget (a toast,
  a tooltip) lies over any part of it. Otherwise it returns False and the caller
  refreshes the usual way.

This leans on Textual internals (the compositor's map, the styles cache, the
driver), all read through `tui/ui/textual_internals.py`; when those are not
where it expects (`textual_internals.usable`), the painter stays disabled and
every row goes through Textual. `tests/e2e/test_screen_rowpaint.py` checks it
against Textual's own rendering.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from tui.ui import textual_internals as internals


class RowPainter:
    """Paints rows of one widget; remembers the last row it rendered."""

    def __init__(self, widget: Widget) -> None:
        self.widget = widget
        self._row: Strip | None = None  # the unfiltered row as last cached
        self._label: tuple[int, str, str] | None = None  # (segment index, label, terminal text)
        self.swaps = 0  # rows painted by swapping the label (for tests and benches)
        self.renders = 0  # rows rendered by Textual's styles cache
        # True: Textual's internals are not where they are expected (checked on the
        # first paint, `textual_internals.usable`): never paint, always refresh instead.
        self.disabled: bool | None = None

    def paint(self, y: int, label: str = "") -> bool:
        """Paint row `y` (outer coordinates, border included) now; `label` is the
        text in it that may differ from the last paint. True when painted; False
        when it is not safe, and nothing was done."""
        if self.disabled is None and self.widget.is_mounted:
            self.disabled = not internals.usable(self.widget)
        if self.disabled:
            return False
        try:
            row = self._on_top_row(y)
            if row is None:
                return False
            text = self._swapped(y, row.width, label)
            if text is None:
                text = self._rendered(y, row.width, label)
        except AttributeError:  # another Textual 8.x moved what this reads: the slow way is still right
            self.disabled = True
            return False
        self._write(row, text)
        return True

    def _on_top_row(self, y: int) -> Region | None:
        """Row `y` in screen coordinates when it is fully on view and on top."""
        widget = self.widget
        if not widget.is_mounted:
            return None
        app = widget.app
        screen = widget.screen
        if app.screen is not screen or app.is_headless or app.is_inline or not internals.frame_settled(app, screen):
            return None
        placed = internals.placement(screen, widget)
        if placed is None:
            return None
        region, clip = placed
        row = Region(region.x, region.y + y, region.width, 1)
        if not 0 <= y < region.height or clip.intersection(row) != row:
            return None  # off screen or cut by a container: let Textual crop it
        on_row = internals.widgets_on_row(screen, row.y)
        if on_row is None:
            return None
        # Topmost first: anything listed before the widget that overlaps the row lies over it.
        for other, cropped, _ in on_row:
            if other is widget:
                return row
            if cropped.overlaps(row) and other.visible:
                return None
        return None  # the widget is not on this row of the map: the map is stale

    def _swapped(self, y: int, width: int, label: str) -> str | None:
        """The last row with the new label in place of the old, when that is
        exact: the same width, and the old label once in the row and once in its
        terminal text (labels here start with a word, never inside an escape
        code). The styles cache gets the new row too."""
        last = self._row
        if last is None or self._label is None or internals.cached_row(self.widget, y, width) is not last:
            return None
        index, old, text = self._label
        if not label or cell_len(label) != cell_len(old):
            return None  # a label of another width moves the border around it: render
        segments = list(last)
        seg_text, style, control = segments[index]
        segments[index] = Segment(seg_text.replace(old, label, 1), style, control)
        row = Strip(segments, width)
        internals.replace_cached_row(self.widget, y, row)
        text = text.replace(old, label, 1)
        self._row, self._label = row, (index, label, text)
        self.swaps += 1
        return text

    def _rendered(self, y: int, width: int, label: str) -> str:
        """The row rendered by Textual's styles cache, as terminal text (and
        remembered for swaps)."""
        widget = self.widget
        strip, self._row = internals.render_row(widget, y, width)
        text = strip.render(widget.app.console)
        self.renders += 1
        self._label = None
        if self._row is not None and label and text.count(label) == 1:
            texts = [seg.text for seg in self._row]
            found = [i for i, seg_text in enumerate(texts) if label in seg_text]
            if len(found) == 1 and texts[found[0]].count(label) == 1:
                self._label = (found[0], label, text)
        return text

    def _write(self, row: Region, body: str) -> None:
        """One write: synchronised update, move, the row, the cursor put back."""
        app = self.widget.app
        cursor = app.screen.outer_size.clamp_offset(app.cursor_position)
        move = f"\x1b[{row.y + 1};{row.x + 1}H"
        back = f"\x1b[{cursor.y + 1};{cursor.x + 1}H"
        internals.write_now(app, f"{move}{body}{back}")
