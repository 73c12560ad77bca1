"""A line chart drawn with braille dots, as rows of (text, style name) runs.

Pure: no Textual, so it tests and benches on its own (`bench/plot_render.py`).
A braille cell holds 2×4 dots, so a chart of 60×10 cells draws 120×40 points.
Meaning survives without colour: lines differ by texture (solid, dotted,
dashed), the axes carry numbers, and the marks are symbols (┃ and the attempt's
number for a relaunch, ✗ for an out-of-memory ending, ◆ for an epoch's
validation figure, ╌ and a word for a device total or a limit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

# The braille bit of dot (dx, dy) in a cell is _BITS[dy][dx] (Unicode's dot order).
_BITS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
BRAILLE = 0x2800
# Which dot columns a line draws, repeating: lines tell apart without colour.
TEXTURES = {"solid": (1,), "dotted": (1, 0), "dashed": (1, 1, 1, 0, 0), "sparse": (1, 0, 0, 0)}

Row = list[tuple[str, str]]  # runs of (text, style name)


@dataclass(frozen=True)
class Line:
    points: Sequence[tuple[float, float, int]]  # (x, y, tag): points of another tag are not joined
    style: str
    texture: str = "solid"
    tag_styles: Sequence[str] = ()  # a style per tag (cycled), instead of `style`


@dataclass(frozen=True)
class Level:
    """A horizontal line across the chart with a word at its right end."""

    y: float
    label: str
    style: str


@dataclass(frozen=True)
class Mark:
    """A vertical line at x with a glyph (and a few letters) in the top row."""

    x: float
    glyph: str
    style: str
    label: str = ""
    bar: str = "┃"


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    glyph: str
    style: str


@dataclass
class Chart:
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    x_label: Callable[[float], str]
    y_label: Callable[[float], str]
    lines: list[Line] = field(default_factory=list)
    levels: list[Level] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)
    empty: str = ""  # the words drawn in the middle when there are no lines


AXIS = "chart--axis"


def y_ticks(lo: float, hi: float, rows: int) -> list[float]:
    """Values for the y axis's labels: top, bottom and, given room, the middle."""
    if rows >= 5:
        return [hi, (lo + hi) / 2, lo]
    return [hi, lo] if rows >= 2 else [hi]


def draw(chart: Chart, width: int, height: int) -> list[Row]:
    """The chart in `width` × `height` cells: plot rows, then the x axis's row."""
    if width < 8 or height < 2:
        return [[(" " * max(width, 0), AXIS)] for _ in range(max(height, 0))]
    if not chart.lines and chart.empty:  # nothing to draw yet: the words alone, no axes without numbers
        blank = " " * width
        out = [[(blank, AXIS)] for _ in range(height)]
        words = chart.empty[:width]
        left = (width - len(words)) // 2
        out[height // 2] = [(blank[:left] + words + blank[left + len(words):], AXIS)]
        return out
    rows = height - 1
    y0, y1 = chart.y_range
    if y1 <= y0:
        y1 = y0 + 1
    ticks = y_ticks(y0, y1, rows)
    labels = [chart.y_label(v) for v in ticks]
    gutter = max(len(s) for s in labels) + 1
    cols = width - gutter
    if cols < 4:
        return [[(" " * width, AXIS)] for _ in range(height)]
    canvas = _Canvas(cols, rows, chart.x_range, (y0, y1))
    for level in chart.levels:
        canvas.level(level)
    for line in chart.lines:
        canvas.line(line)
    for mark in chart.marks:
        canvas.mark(mark)
    for dot in chart.dots:
        canvas.dot(dot)
    tick_rows = {canvas.row_of(v): s for v, s in zip(ticks, labels, strict=True)}
    out: list[Row] = []
    for r in range(rows):
        label = tick_rows.get(r)
        axis = f"{label:>{gutter - 1}}┤" if label is not None else " " * (gutter - 1) + "│"
        out.append([(axis, AXIS), *canvas.runs(r)])
    out.append([(" " * (gutter - 1) + "└", AXIS), (_x_axis(chart, cols), AXIS)])
    return out


def _x_axis(chart: Chart, cols: int) -> str:
    """Numbers under the plot: its start, its end and, given room, the middle."""
    x0, x1 = chart.x_range
    first, last = chart.x_label(x0), chart.x_label(x1)
    axis = [" "] * cols
    _put(axis, 0, first)
    _put(axis, cols - len(last), last)
    middle = chart.x_label((x0 + x1) / 2)
    at = (cols - len(middle)) // 2
    if cols >= len(first) + len(middle) + len(last) + 6:
        _put(axis, at, middle)
    return "".join(axis)


def _put(cells: list[str], at: int, text: str) -> None:
    for i, ch in enumerate(text):
        if 0 <= at + i < len(cells):
            cells[at + i] = ch


class _Canvas:
    def __init__(self, cols: int, rows: int, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.cols, self.rows = cols, rows
        self.px, self.py = cols * 2, rows * 4
        self.x0, x1 = x_range
        self.xspan = (x1 - self.x0) or 1.0
        self.y0, y1 = y_range
        self.yspan = (y1 - self.y0) or 1.0
        self.masks = [[0] * cols for _ in range(rows)]
        self.styles: list[list[str]] = [[AXIS] * cols for _ in range(rows)]
        self.chars: list[list[str | None]] = [[None] * cols for _ in range(rows)]  # text over braille
        self.under: list[list[str | None]] = [[None] * cols for _ in range(rows)]  # shown where no dots
        self.words: set[tuple[int, int]] = set()  # cells of a level's words, which marks keep clear of

    def x_dot(self, x: float) -> int:
        return min(self.px - 1, max(0, int((x - self.x0) / self.xspan * (self.px - 1) + 0.5)))

    def y_dot(self, y: float) -> int:
        """Dot row from the top; values off the range sit on its edge."""
        return min(self.py - 1, max(0, self.py - 1 - int((y - self.y0) / self.yspan * (self.py - 1) + 0.5)))

    def row_of(self, y: float) -> int:
        return self.y_dot(y) // 4

    def line(self, line: Line) -> None:
        pattern = TEXTURES.get(line.texture, (1,))
        masks, styles = self.masks, self.styles
        prev: tuple[int, int, int] | None = None
        for x, y, tag in line.points:
            px, py = self.x_dot(x), self.y_dot(y)
            style = line.tag_styles[tag % len(line.tag_styles)] if line.tag_styles else line.style
            if prev is not None and prev[2] == tag and px > prev[0]:
                start_x, start_y, _ = prev
                span = px - start_x
                last_y = start_y
                for cx in range(start_x + 1, px + 1):
                    cy = start_y + (py - start_y) * (cx - start_x) // span
                    lo, hi = (last_y, cy) if last_y <= cy else (cy, last_y)
                    if pattern[cx % len(pattern)]:
                        self._column(cx, lo, hi, style, masks, styles)
                    last_y = cy
            elif pattern[px % len(pattern)] or prev is None or prev[2] != tag:
                self._column(px, py, py, style, masks, styles)
            prev = (px, py, tag)

    def _column(self, cx: int, lo: int, hi: int, style: str, masks: list[list[int]],
                styles: list[list[str]]) -> None:
        col, dx = divmod(cx, 2)
        for dy in range(lo, hi + 1):
            row, sub = divmod(dy, 4)
            masks[row][col] |= _BITS[sub][dx]
            styles[row][col] = style

    def level(self, level: Level) -> None:
        row = self.row_of(level.y)
        for c in range(self.cols):
            self.under[row][c] = "╌"
            self.styles[row][c] = level.style
        self.text(1, row, level.label, level.style)
        self.words.update((row, c) for c in range(1, 1 + len(level.label)))

    def mark(self, mark: Mark) -> None:
        col = self.x_dot(mark.x) // 2
        for r in range(self.rows):
            if self.under[r][col] is None or r == 0:
                self.under[r][col] = mark.bar
            if not self.masks[r][col] and self.chars[r][col] is None:  # a level's words keep their colour
                self.styles[r][col] = mark.style
        # The glyph and its label go in the top row, or lower where words (a level's) already sit there.
        width = len(mark.glyph) + len(mark.label)
        row = next((r for r in range(self.rows)
                    if not any((r, c) in self.words for c in range(col, min(col + width, self.cols)))), 0)
        self.text(col, row, mark.glyph + mark.label, mark.style)

    def dot(self, dot: Dot) -> None:
        row = self.row_of(dot.y)
        col = self.x_dot(dot.x) // 2
        self.text(col, row, dot.glyph, dot.style)

    def text(self, col: int, row: int, text: str, style: str) -> None:
        if not 0 <= row < self.rows:
            return
        for i, ch in enumerate(text):
            c = col + i
            if 0 <= c < self.cols:
                self.chars[row][c] = ch
                self.styles[row][c] = style

    def runs(self, r: int) -> Row:
        """Row `r` as runs of one style each."""
        masks, styles, chars, under = self.masks[r], self.styles[r], self.chars[r], self.under[r]
        out: Row = []
        text: list[str] = []
        current = None
        for c in range(self.cols):
            ch = chars[c]
            if ch is None:
                mask = masks[c]
                ch = chr(BRAILLE + mask) if mask else (under[c] or " ")
            style = styles[c] if ch != " " else AXIS
            if style != current and text:
                out.append(("".join(text), current or AXIS))
                text = []
            current = style
            text.append(ch)
        if text:
            out.append(("".join(text), current or AXIS))
        return out


def span(values: Iterable[float]) -> tuple[float, float] | None:
    """(min, max) of the values, or None when there are none."""
    lo = hi = None
    for v in values:
        if lo is None or v < lo:
            lo = v
        if hi is None or v > hi:
            hi = v
    return None if lo is None or hi is None else (lo, hi)
