"""The plots: memory over time and learning over steps, for the whole session.

Line-API widgets drawing `tui.ui.widgets.chart` charts from the session's
`SessionPlots`. They are redrawn on the screen's once-a-second tick (`draw`),
and only when the data moved or the size or theme changed; a step costs the
data an append, never a frame. A chart that is not on screen (the plots
hidden at 80 columns) costs nothing but its data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.color import Color, ColorParseError
from textual.containers import Vertical
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from trainer.config import RunConfig
from tui.common.units import format_bytes
from tui.ui.plotdata import Mark as SessionMark
from tui.ui.plotdata import Series, SessionPlots
from tui.ui.widgets.chart import AXIS, Chart, Dot, Level, Line, Mark, draw, span
from tui.ui.widgets.words import duration, nbytes

ATTEMPT_STYLES = ("chart--a0", "chart--a1", "chart--a2", "chart--a3")
ATTEMPT_TEXTURES = ("solid", "dashed", "dotted")
# What each texture looks like in a legend: one braille cell or three.
SAMPLE = {"solid": "⠒⠒", "dotted": "⠂⠂", "dashed": "⠒⠂⠐", "sparse": "⠂ ⠂"}
RELAUNCH, OOM, VALIDATION = "┃", "✗", "◆"
KEY_WORDS = "p: step log"  # in the panel's title where the plots replace the log


def limit_of(config: RunConfig | None) -> tuple[int, str] | None:
    """A memory cap set on the run, in bytes, with its words for the chart."""
    if config is None:
        return None
    if config.gpu_memory_limit:
        return config.gpu_memory_limit << 20, "TF cap"
    if config.host_memory_limit:
        return config.host_memory_limit << 20, "address-space limit"
    return None


def _padded(lo: float, hi: float, least: float) -> tuple[float, float]:
    """The range with a margin, at least `least` tall, never below zero."""
    height = max(hi - lo, least)
    middle = (lo + hi) / 2
    lo, hi = middle - height / 2, middle + height / 2
    margin = height * 0.08
    lo = max(0.0, lo - margin)
    return lo, hi + margin


def bytes_tick(value: float, lo: float, hi: float) -> str:
    """A y-axis figure in the unit of the top of the scale, with as many decimals
    as it takes for the figures of a narrow scale (1.33G, 1.40G, 1.47G) to differ."""
    unit, letter = next(((1 << s, c) for s, c in ((40, "T"), (30, "G"), (20, "M"), (10, "K")) if hi >= 1 << s),
                        (1, "B"))
    height = (hi - lo) / unit
    digits = 0 if height >= 10 else 1 if height >= 1 else 2
    return f"{value / unit:.{digits}f}{letter}"


def _values(*series: Series) -> list[float]:
    return [y for s in series for y in s.ys]


def memory_chart(data: SessionPlots) -> tuple[Chart, str]:
    """The memory chart and its title (the legend, and what lies off the scale)."""
    own = [(data.run, "run" if data.gpu else "trainer RSS", "chart--run", "solid")]
    if data.gpu:
        own += [(data.tf, "TF now", "chart--tf", "dotted"), (data.peak, "TF peak", "chart--peak", "dashed")]
    others_words = "others" if data.gpu else "host used"
    xs = [x for s in (data.run, data.tf, data.peak, data.others) for x in s.xs]
    xs += [m.x for m in data.time_marks]
    if not xs:
        empty = Chart((0, 1), (0, 1), lambda x: "", lambda y: "", empty="memory: waiting for the first sample…")
        return empty, ""
    x0, x1 = min(xs), max(xs)
    core = span(_values(*(s for s, *_ in own))) or span(data.others.ys) or (0.0, 1.0)
    lo, hi = _padded(core[0], core[1], max(core[1] * 0.05, 16 << 20))
    room = (hi - lo) * 1.5  # how far beyond the run's own range others may stretch the scale
    notes: list[str] = []
    lines = []
    levels = []
    candidates = [data.limit] if data.limit else []
    if data.total:
        candidates.append((data.total, "total"))
    for value, words in candidates:
        if lo - room <= value <= hi + room:
            levels.append(Level(value, f"{words} {format_bytes(value, digits=None)}", "chart--limit"))
            lo, hi = min(lo, value), max(hi, value * 1.02)
        else:
            notes.append(f"{words} {nbytes(value)} off scale")
    others = span(data.others.ys)
    shown_others = others is not None and (
        (lo - room <= others[0] and others[1] <= hi + room) or not any(s for s, *_ in own))
    if shown_others:
        assert others is not None
        lines.append(Line(list(data.others.points()), "chart--others", "sparse"))
        lo, hi = min(lo, others[0]), max(hi, others[1])
    elif others is not None:
        notes.append(f"{others_words} {nbytes(data.others.last())} off scale")
    for series, _, style, texture in own:
        if series:
            lines.append(Line(list(series.points()), style, texture))
    marks = _marks(data.time_marks, x0)
    legend = [f"{SAMPLE[t]} {words} {nbytes(s.last())}" for s, words, _, t in own if s]
    if shown_others:
        legend.append(f"{SAMPLE['sparse']} {others_words} {nbytes(data.others.last())}")
    title = "  ".join([*legend, *notes])
    chart = Chart((x0, max(x1, x0 + 1)), (lo, hi), lambda x: duration(x - x0),
                  lambda y: bytes_tick(y, lo, hi), lines=lines, levels=levels, marks=marks)
    return chart, title


def _marks(marks: Iterable[SessionMark], x0: float) -> list[Mark]:
    """Relaunches first, endings over them: an ending and the relaunch that
    follows it often share a column, and read "✗2" there (out of memory, then
    attempt 2)."""
    ordered = sorted((m for m in marks if m.x >= x0), key=lambda m: m.kind == "oom")
    return [_mark(m.kind, m.x, m.attempt) for m in ordered]


def _mark(kind: str, x: float, attempt: int) -> Mark:
    if kind == "oom":
        return Mark(x, OOM, "chart--oom", bar="┊")
    return Mark(x, RELAUNCH, "chart--relaunch", label=str(attempt))


def learning_chart(data: SessionPlots, what: str) -> tuple[Chart, str]:
    """Loss (or accuracy) per step across attempts, each attempt a texture and a
    colour of its own, validation figures as ◆ at epoch ends."""
    series, val = (data.loss, data.val_loss) if what == "loss" else (data.accuracy, data.val_accuracy)
    if not series:
        empty = Chart((0, 1), (0, 1), lambda x: "", lambda y: "", empty=f"{what}: no steps yet")
        return empty, ""
    tags = sorted(set(series.tags))
    lines = []
    for i, tag in enumerate(tags[-8:]):
        points = [p for p in series.points() if p[2] == tag]
        texture = ATTEMPT_TEXTURES[i % len(ATTEMPT_TEXTURES)]
        lines.append(Line(points, ATTEMPT_STYLES[i % len(ATTEMPT_STYLES)], texture))
    values = span([*series.ys, *val.ys]) or (0.0, 1.0)
    lo, hi = _padded(values[0], values[1], 0.02)
    if what == "accuracy":
        hi = min(hi, 1.0)
    x0 = series.xs[0]
    x1 = max(data.steps, x0 + 1)
    dots = [Dot(x, y, VALIDATION, "chart--val") for x, y, _ in val.points()]
    marks = _marks(data.step_marks, x0)
    legend = []
    if len(tags) > 1:
        legend += [f"{SAMPLE[ATTEMPT_TEXTURES[i % len(ATTEMPT_TEXTURES)]]} #{tag}"
                   for i, tag in enumerate(tags[-8:])]
    last = series.last()
    legend.append(f"now {last:.3f}" if last is not None else "")
    if val:
        legend.append(f"{VALIDATION} validation {val.last():.3f}")
    title = "  ".join(["per step", *legend])
    chart = Chart((x0, x1), (lo, hi), lambda x: f"{x:.0f}", lambda y: f"{y:.2f}",
                  lines=lines, marks=marks, dots=dots)
    return chart, title


class ChartView(Widget):
    """One chart, drawn into strips once per change and kept for painting."""

    # A colour of the theme for each style name (the axes take the widget's own
    # colour, $text-muted). Read from the theme's variables rather than from
    # component classes: thirteen per chart were a tenth of the screen's first
    # frame (bench/startup.py), each styled like a widget.
    COLOURS: ClassVar[dict[str, tuple[str, bool]]] = {
        "chart--run": ("accent", False), "chart--tf": ("primary", False), "chart--peak": ("warning", False),
        "chart--others": ("", False), "chart--limit": ("error", False),
        "chart--relaunch": ("secondary", True), "chart--oom": ("error", True), "chart--val": ("warning", False),
        "chart--a0": ("accent", False), "chart--a1": ("success", False), "chart--a2": ("warning", False),
        "chart--a3": ("secondary", False),
    }
    DEFAULT_CSS = """
    ChartView { height: 1fr; min-height: 4; border-top: solid $primary 40%; border-title-align: left;
                border-title-color: $text; color: $text-muted; }
    """

    def __init__(self, data: SessionPlots, what: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.data = data
        self.what = what
        self._strips: list[Strip] | None = None
        self._chart: Chart | None = None
        self._version = -1
        self._built = Size(0, 0)  # the size the strips were drawn for
        self._styles: dict[str, Style] | None = None
        self.suffix = ""  # words after the title
        self.builds = 0  # charts drawn (for tests and the bench)

    def update(self, force: bool = False) -> None:
        """Take the data as it stands when it moved since the last look (the
        screen's tick): the chart and its title now, in the frame that follows;
        its rows when that frame paints them."""
        if force or self._data_version() != self._version:
            self._take()
            self._strips = None
            self.refresh()

    def _take(self) -> None:
        self._version = self._data_version()
        self._chart, legend = memory_chart(self.data) if self.what == "memory" else learning_chart(self.data, self.what)
        # Set here, not while painting: a title set during a paint asks for a frame of its own.
        title = f"{self.what}{self.suffix}  {legend}" if legend else f"{self.what}{self.suffix}"
        if self.border_title != title:
            self.border_title = title

    def _data_version(self) -> int:
        return self.data.memory_version if self.what == "memory" else self.data.learning_version

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips = None
        self._styles = None

    def on_resize(self) -> None:
        self._strips = None

    def _build(self) -> list[Strip]:
        if self._chart is None:
            self._take()
        assert self._chart is not None
        self.builds += 1
        width, height = self.size.width, self.size.height
        styles = self._styles
        if styles is None:  # made once per theme
            styles = self._styles = self._style_map()
        return [Strip([Segment(text, styles.get(name)) for text, name in row], width)
                for row in draw(self._chart, width, height)]

    def _style_map(self) -> dict[str, Style]:
        base = self.rich_style  # background and the axes' colour
        variables = self.app.theme_variables
        styles = {AXIS: base}
        for name, (variable, bold) in self.COLOURS.items():
            try:
                colour = Color.parse(variables[variable]).rich_color
            except (KeyError, ColorParseError):
                colour = None
            styles[name] = base + Style(color=colour, bold=bold or None)
        return styles

    def render_line(self, y: int) -> Strip:
        size = self.size
        if self._strips is None or self._built != size:
            self._built = size
            self._strips = self._build()
        strips = self._strips
        return strips[y].crop_extend(0, size.width, None) if y < len(strips) else Strip.blank(size.width)


class PlotsPanel(Vertical):
    """The memory chart over the loss chart, and accuracy's when there is room."""

    DEFAULT_CSS = """
    PlotsPanel { height: 1fr; }
    PlotsPanel #plot-memory { height: 3fr; }
    PlotsPanel #plot-loss { height: 2fr; }
    PlotsPanel #plot-accuracy { height: 2fr; }
    """
    TALL = 24  # rows from which the accuracy chart gets one of its own

    def __init__(self, data: SessionPlots, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.data = data
        self._hint = ""
        self.charts = [ChartView(data, "memory", id="plot-memory"), ChartView(data, "loss", id="plot-loss"),
                       ChartView(data, "accuracy", id="plot-accuracy")]

    def compose(self) -> ComposeResult:
        yield from self.charts

    @property
    def hint(self) -> str:
        return self._hint

    @hint.setter
    def hint(self, words: str) -> None:
        """Words at the end of the first chart's title (the key back to the log)."""
        if words != self._hint:
            self._hint = words
            self.charts[0].suffix = f" ({words})" if words else ""
            self.charts[0].update(force=True)

    def on_resize(self) -> None:
        self.charts[2].display = self.size.height >= self.TALL

    def draw(self, force: bool = False) -> None:
        """The screen's tick; `force` when the panel has just come on screen."""
        if force or self.display:
            for chart in self.charts:
                chart.update(force)
