"""The verdict panel: shown when an attempt ends badly. It says what happened
in words, shows the evidence line and lists the remedies that fit, with keys."""

from __future__ import annotations

from textual.markup import escape
from textual.widgets import Static

from tui.verdict import FINISHED, KILLED, NOT_OOM, STOPPED, Verdict
from tui.widgets.keys import display_key

HEADLINES = {
    FINISHED: "✓ FINISHED",
    STOPPED: "■ STOPPED",
    KILLED: "✗ KILLED",
    NOT_OOM: "✗ CRASHED",
}


def headline(verdict: Verdict) -> str:
    if verdict.is_oom:
        return "✗ OUT OF MEMORY"
    return HEADLINES.get(verdict.kind, "✗ " + verdict.kind.upper())


def verdict_markup(verdict: Verdict, enabled_keys: set[str] | None = None, note: str | None = None) -> str:
    style = "$success" if verdict.kind == FINISHED else "$warning" if verdict.kind == STOPPED else "$error"
    lines = [f"[b {style}]{headline(verdict)}[/] [dim]({escape(verdict.kind)})[/]", escape(verdict.summary)]
    for line in verdict.evidence[:2]:
        lines.append(f"[dim]evidence:[/] {escape(line.strip())}")
    for remedy in verdict.remedies[:4]:
        if remedy.key and (enabled_keys is None or remedy.key in enabled_keys):
            key = escape(display_key(remedy.key))
            lines.append(f"  [b]\\[{key}][/] {escape(remedy.title)} [dim]— {escape(remedy.why)}[/]")
        else:
            lines.append(f"  [b] • [/] {escape(remedy.title)} [dim]— {escape(remedy.why)}[/]")
    if note:
        lines.append(f"[i]{escape(note)}[/]")
    return "\n".join(lines)


class VerdictPanel(Static):
    """Hidden until an attempt ends; finished runs get a one-line panel."""

    DEFAULT_CSS = "VerdictPanel { height: auto; display: none; }"

    def show(self, verdict: Verdict | None, enabled_keys: set[str] | None = None, note: str | None = None) -> None:
        if verdict is None:
            self.display = False
            return
        self.set_class(verdict.kind == FINISHED, "-finished")
        self.set_class(verdict.kind not in (FINISHED, STOPPED), "-bad")
        self.update(verdict_markup(verdict, enabled_keys, note))
        self.display = True
