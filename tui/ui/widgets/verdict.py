"""The verdict panel: shown when an attempt ends badly. It says what happened
in words, shows the evidence line and lists the remedies that fit, with keys."""

from __future__ import annotations

import textwrap

from textual.markup import escape
from textual.widget import Widget
from textual.widgets import Static

from tui.common.verdict import FINISHED, KILLED, LIBRARY_ERROR, NOT_OOM, STOPPED, Verdict
from tui.ui.widgets.keys import display_key, key_for_remedy

HEADLINES = {
    FINISHED: "✓ FINISHED",
    STOPPED: "■ STOPPED",
    KILLED: "✗ KILLED",
    NOT_OOM: "✗ CRASHED",
    LIBRARY_ERROR: "✗ LIBRARY ERROR",
}


SUMMARY_LINES = 4
COMPACT_BELOW = 30  # terminal rows
# Border and padding on each side of the panel's text.
FRAME = 4


def headline(verdict: Verdict) -> str:
    if verdict.is_oom:
        return "✗ OUT OF MEMORY"
    return HEADLINES.get(verdict.kind, "✗ " + verdict.kind.upper())


def verdict_markup(verdict: Verdict, enabled_keys: set[str] | None = None, note: str | None = None,
                   width: int | None = None, compact: bool = False) -> str:
    """`compact` (a short terminal): three summary lines and one evidence line,
    so that three remedies with their keys still fit at 80x24."""
    style = "$success" if verdict.kind == FINISHED else "$warning" if verdict.kind == STOPPED else "$error"
    # The kind adds something only for out-of-memory endings (which memory, which allocator).
    kind = f" [dim]({escape(verdict.kind)})[/]" if verdict.is_oom else ""
    lines = [f"[b {style}]{headline(verdict)}[/]{kind}"]
    # The panel does not wrap (evidence and remedies end in "…"), but the summary
    # is the one sentence that must be read whole: wrap it to the panel.
    summary = textwrap.wrap(verdict.summary, width) if width and width > 20 else [verdict.summary]
    room = SUMMARY_LINES - 1 if compact else SUMMARY_LINES
    if len(summary) > room:
        summary = [*summary[: room - 1], summary[room - 1] + " …"]
    lines += [escape(line) for line in summary]
    for line in verdict.evidence[: 1 if compact else 2]:
        # Spaces go inside the span before them: SVG converters drop a span's opening spaces.
        lines.append(f"[dim]evidence: [/]{escape(line.strip())}")
    for remedy in verdict.remedies[:4]:
        letter = key_for_remedy(remedy.id)
        if letter and (enabled_keys is None or letter in enabled_keys):
            key = escape(display_key(letter))
            lines.append(f"  [b]\\[{key}] [/]{escape(remedy.title)} [dim]— {escape(remedy.why)}[/]")
        else:
            lines.append(f"  [b] •  [/]{escape(remedy.title)} [dim]— {escape(remedy.why)}[/]")
    if note:
        lines.append(f"[i]{escape(note)}[/]")
    return "\n".join(lines)


class VerdictPanel(Static):
    """Hidden until an attempt ends; finished runs get a one-line panel."""

    DEFAULT_CSS = "VerdictPanel { height: auto; display: none; }"

    _shown: tuple[Verdict, set[str] | None, str | None] | None = None

    def show(self, verdict: Verdict | None, enabled_keys: set[str] | None = None, note: str | None = None) -> None:
        if verdict is None:
            self._shown = None
            self.display = False
            return
        self._shown = (verdict, enabled_keys, note)
        self.set_class(verdict.kind == FINISHED, "-finished")
        self.set_class(verdict.kind not in (FINISHED, STOPPED), "-bad")
        self.update(verdict_markup(verdict, enabled_keys, note, self._text_width(), self._compact()))
        self.display = True

    def _compact(self) -> bool:
        return self.app.size.height < COMPACT_BELOW

    def _text_width(self) -> int:
        # While hidden the panel has no size of its own; it spans its parent.
        outer = self.parent.size.width if isinstance(self.parent, Widget) else 0
        return (outer or self.app.size.width) - FRAME

    def on_resize(self) -> None:
        if self._shown is not None:
            verdict, keys, note = self._shown
            self.update(verdict_markup(verdict, keys, note, self._text_width(), self._compact()))
