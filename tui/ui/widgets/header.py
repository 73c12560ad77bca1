"""The run header: state in words, the settings that decide memory, elapsed
time and epoch progress with an ETA."""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content
from textual.markup import escape
from textual.widgets import Static

from trainer.config import RunConfig
from trainer.protocol import Step
from tui.kinds.words import header_words
from tui.ui.widgets.words import STATES, bar, duration


@dataclass(frozen=True)
class HeaderView:
    """What the header needs, gathered by the app (times already resolved)."""

    state: str  # a key of STATES
    attempt: int | None
    config: RunConfig | None
    elapsed: float | None
    last_step: Step | None
    steps: int
    steps_per_second: float | None
    reason: str = ""
    auto_recover: bool = False
    read_only: bool = False
    attached: str | None = None  # run id when watching a run launched elsewhere
    search: str | None = None  # a find-batch search going on: its probe, the range still open, the ETA


def progress(view: HeaderView) -> tuple[float, float | None] | None:
    """(fraction done, seconds left) over all epochs, or None before the first step."""
    step, cfg = view.last_step, view.config
    if step is None or cfg is None or not step.steps_in_epoch:
        return None
    total = cfg.epochs * step.steps_in_epoch
    done = (step.epoch - 1) * step.steps_in_epoch + step.step
    fraction = min(1.0, done / total) if total else 0.0
    rate = view.steps_per_second
    if not rate and view.elapsed and view.steps:
        rate = view.steps / view.elapsed
    eta = (total - done) / rate if rate else None
    return fraction, eta


def header_markup(view: HeaderView, width: int) -> str:
    words, style = STATES.get(view.state, (view.state.upper(), "bold"))
    # The gap after the state is inside its styled span: an SVG converter
    # (rsvg-convert) drops the spaces that open a span, and the README's
    # screenshots read "OUT OF MEMORYattempt 1".
    gap = "  " if view.attempt is not None else ""
    first = f"[{style}]{escape(words)}{gap}[/]"
    if view.attempt is not None:
        first += f"attempt {view.attempt}"
    if view.elapsed is not None:
        first += f" · {duration(view.elapsed)}"
    step, cfg = view.last_step, view.config
    if step is not None and cfg is not None:
        first += f" · epoch {step.epoch}/{cfg.epochs}"
        prog = progress(view)
        if prog is not None:
            fraction, eta = prog
            tail = f" {fraction:4.0%}" + (f" ETA {duration(eta)}" if view.state == "training" else "")
            room = width - len(_plain(first)) - len(tail) - 3
            if room >= 6:
                first += " " + bar(fraction, min(room, 30))
            first += tail
    lines = [first]
    if cfg is not None:
        lines.append(escape(header_words(cfg, width)))
    notes = []
    if view.search:
        notes.append(view.search)
    if view.attached:
        owner = " (read-only: another screen controls it)" if view.read_only else ""
        notes.append(f"attached to {view.attached}{owner}")
    if view.reason:
        notes.append(f"why: {view.reason}")
    notes.append("auto-recover [b]on[/]" if view.auto_recover else "auto-recover off")
    lines.append("[dim]" + escape(" · ".join(notes[:-1])) + (" · " if notes[:-1] else "") + notes[-1] + "[/]")
    return "\n".join(lines)


def _plain(markup: str) -> str:
    return Content.from_markup(markup).plain


class RunHeader(Static):
    """Three lines at the top; redrawn on events and once a second for the clock."""

    DEFAULT_CSS = "RunHeader { height: auto; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=True, **kwargs)  # type: ignore[arg-type]
        self._view: HeaderView | None = None
        self._lines = 0

    def show(self, view: HeaderView) -> None:
        if view == self._view:
            return
        self._view = view
        self._draw()

    def on_resize(self) -> None:
        if self._view is not None:
            self._draw()

    def _draw(self) -> None:
        assert self._view is not None
        markup = header_markup(self._view, self.size.width or 80)
        # Lines never wrap here, so the height changes only with the line count;
        # the clock ticking each second is a repaint, not a layout of the screen.
        lines = markup.count("\n") + 1
        self.update(markup, layout=lines != self._lines)
        self._lines = lines
