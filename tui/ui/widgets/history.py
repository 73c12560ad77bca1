"""Every attempt of this session: config, outcome, steps, peak memory, steps/s.

A small line-API table in place of Textual's DataTable: the live row changes
every second, and DataTable re-renders every cell of every row on any update.
Here each line is rendered once into a Strip and kept; a change repaints only
its own line, or the whole table when a column's width changes. It looks the
same as the DataTable it replaces (header, cell padding, focus tint).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.kinds.words import table_words
from tui.ui.widgets.words import OUTCOMES, nbytes

if TYPE_CHECKING:
    from typing_extensions import Self

    from tui.supervision.attempt import AttemptInfo

COLUMNS = ("#", "config", "outcome", "steps", "peak", "steps/s")
PADDING = 1  # cells each side of a cell's text, as DataTable's cell_padding
# Cells are plain text: control characters would move the terminal's cursor.
_PLAIN = str.maketrans({c: " " for c in map(chr, [*range(32), 127])})


def row(info: AttemptInfo) -> tuple[str, ...]:
    rate = f"{info.steps_per_second:.1f}" if info.steps_per_second else "–"
    return (
        str(info.number),
        table_words(info.config) if info.config else "?",
        OUTCOMES.get(info.state, info.state),
        str(info.steps),
        nbytes(info.peak_memory) if info.peak_memory else "–",
        rate,
    )


def probe_cells(index: int, batch: int, outcome: str, peak: int | None,
                examples_per_second: float | None) -> tuple[str, ...]:
    """A find-batch probe's row: not an attempt of the session, so numbered p1, p2, ..."""
    rate = f"{examples_per_second:.0f} ex/s" if examples_per_second else "–"
    return (f"p{index}", f"probe b{batch}", outcome, "–", nbytes(peak) if peak else "–", rate)


def _plain(text: str) -> str:
    return text.translate(_PLAIN)


class HistoryTable(ScrollView, can_focus=True):
    """One row per attempt under a fixed header; the newest row kept in view."""

    ALLOW_SELECT = False
    # ScrollView's keys (arrows, page up/down, home/end) plus DataTable's two for top and bottom.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+home", "scroll_home", "Top", show=False),
        Binding("ctrl+end", "scroll_end", "Bottom", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"history--header"}
    # DataTable's look, from theme variables only.
    DEFAULT_CSS = """
    HistoryTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 6;
        &:focus {
            background-tint: $foreground 5%;
            & > .history--header { background-tint: $foreground 5%; }
        }
        & > .history--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .history--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
    }
    """
    _restyle = True  # check the styles before drawing; a class attribute, as __init__ may refresh

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._order: list[str] = []  # row keys, oldest first
        self._index: dict[str, int] = {}
        self._cells: dict[str, tuple[str, ...]] = {}  # as given, for get_row
        self._shown: dict[str, tuple[str, ...]] = {}  # as drawn
        self._widths: list[int] = [cell_len(name) for name in COLUMNS]  # text widths, no padding
        self._lines: dict[int, Strip] = {}  # line of the table (0: header) -> its strip
        self._key: tuple[object, ...] | None = None  # what the cached strips were drawn for
        self._base = Style()
        self._header = Style()
        self._base_extend = Style()
        self._header_extend = Style()
        self._row_styles: dict[int, tuple[list[Style], Style]] = {}  # row index (-1: header) -> cell styles
        self._dim: set[str] = set()  # row keys drawn dim: find-batch probes
        self._width = 0
        self._scroll_x = 0

    # --- public -------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def row_keys(self) -> list[str]:
        """The rows' keys, oldest first: attempts by number ("1"), find-batch probes as "p1"."""
        return list(self._order)

    def get_row(self, key: str) -> list[str]:
        """The cells of one attempt's row (key: its number as a string)."""
        return list(self._cells[key])

    def record(self, info: AttemptInfo) -> None:
        """Add or refresh the row of one attempt; unchanged rows cost nothing."""
        self._put(str(info.number), row(info))

    def record_probe(self, index: int, batch: int, outcome: str, peak: int | None = None,
                     examples_per_second: float | None = None) -> None:
        """Add or refresh a find-batch probe's row, drawn dim."""
        key = f"p{index}"
        if key not in self._dim:
            self._dim.add(key)
            self._row_styles.clear()
        self._put(key, probe_cells(index, batch, outcome, peak, examples_per_second))

    def _put(self, key: str, new: tuple[str, ...]) -> None:
        old = self._cells.get(key)
        if old == new:
            return
        self._cells[key] = new
        shown = tuple(_plain(cell) for cell in new)
        before = self._shown.get(key)
        self._shown[key] = shown
        if old is None:
            self._index[key] = len(self._order)
            self._order.append(key)
            self._fit_widths(shown)
            self._lines.clear()
            self._resize_virtual()
            self.refresh()
            self.scroll_end(animate=False, x_axis=False)
            return
        line = self._index[key] + 1
        if self._fit_widths(shown, before):
            self._lines.clear()
            self._resize_virtual()
            self.refresh()
            return
        self._lines.pop(line, None)
        y = line - self.scroll_offset.y
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    # --- widths -------------------------------------------------------------

    def _fit_widths(self, shown: tuple[str, ...], old: tuple[str, ...] | None = None) -> bool:
        """Make each column as wide as its widest cell, header included (`old`: the
        row's cells before this change). True if any column's width changed."""
        any_changed = False
        for col, text in enumerate(shown):
            current = self._widths[col]
            width = cell_len(text)
            if old is not None and width < current == cell_len(old[col]):
                # The widest cell got narrower: measure the column again.
                width = max(cell_len(COLUMNS[col]), *(cell_len(cells[col]) for cells in self._shown.values()))
            elif width <= current:
                continue
            if width != current:
                self._widths[col] = width
                any_changed = True
        return any_changed

    @property
    def _table_width(self) -> int:
        return sum(self._widths) + 2 * PADDING * len(self._widths)

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(self._table_width, len(self._order) + 1)

    # --- rendering ----------------------------------------------------------

    def on_mount(self) -> None:
        self._resize_virtual()  # the header shows before the first attempt

    # The strips are kept until what they were drawn with changes. Computing the
    # styles costs more than drawing a line, so it is done only after a style
    # update, a resize or a repaint of the whole widget (an inline style change
    # or a scroll repaints it all), never after a one-line refresh.

    def refresh(self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False) -> Self:
        if not regions:
            self._restyle = True
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._restyle = True

    def on_resize(self, event: events.Resize) -> None:
        self._restyle = True

    def watch_scroll_x(self, old_value: float, new_value: float) -> None:
        self._restyle = True  # the strips are cropped to the columns in view
        super().watch_scroll_x(old_value, new_value)

    def _check_styles(self) -> None:
        """Drop the cached strips when what they were drawn with has changed."""
        self._restyle = False
        base = self.rich_style
        header = self.get_component_rich_style("history--header")
        width, scroll_x = self.size.width, self.scroll_offset.x
        key = (base, header, width, scroll_x)
        if key == self._key:
            return
        self._key = key
        self._lines.clear()
        self._row_styles.clear()
        self._width, self._scroll_x = width, scroll_x
        self._base, self._header = base, header
        background = self.background_colors[1]
        self._base_extend = self._extend_style(base, background)
        self._header_extend = self._extend_style(header, background)

    @staticmethod
    def _extend_style(style: Style, background: Color) -> Style:
        """The style of the space right of the table (as DataTable fades it)."""
        if style.bgcolor is None:
            return Style.from_color(style.color, style.bgcolor)
        faded = Color.from_rich_color(style.bgcolor).blend(background, factor=0.25)
        return Style.from_color(color=style.color, bgcolor=faded.rich_color)

    def render_line(self, y: int) -> Strip:
        if self._restyle:
            self._check_styles()
        line = y if y == 0 else y + self.scroll_offset.y  # the header stays put
        strip = self._lines.get(line)
        if strip is None:
            strip = self._lines[line] = self._render_table_line(line)
        return strip

    def _cell_styles(self, index: int) -> tuple[list[Style], Style]:
        """The styles of one row's cells and of the space beyond them (index -1: the
        header), with the row and column in their meta as DataTable has them."""
        styles = self._row_styles.get(index)
        if styles is None:
            style, extend = (self._header, self._header_extend) if index < 0 else (self._base, self._base_extend)
            if index >= 0 and self._order[index] in self._dim:
                style = style + Style(dim=True)
            cells = [style + Style.from_meta({"row": index, "column": col}) for col in range(len(COLUMNS))]
            beyond = extend + Style.from_meta({"row": index, "column": 0, "out_of_bounds": True})
            styles = self._row_styles[index] = (cells, beyond)
        return styles

    def _render_table_line(self, line: int) -> Strip:
        width = self._width
        if line > len(self._order):
            return Strip.blank(width, self._base)
        index = line - 1
        cells = COLUMNS if line == 0 else self._shown[self._order[index]]
        cell_styles, beyond = self._cell_styles(index)
        pad = " " * PADDING
        segments = [
            Segment(f"{pad}{text}{' ' * (cell_width - cell_len(text))}{pad}", style)
            for text, cell_width, style in zip(cells, self._widths, cell_styles, strict=True)
        ]
        segments.append(Segment(" " * max(0, width - self._table_width), beyond))
        strip = Strip(segments)
        if self._scroll_x or strip.cell_length > width:
            strip = strip.crop(self._scroll_x, self._scroll_x + width)
        return strip.adjust_cell_length(width, self._base).simplify()
