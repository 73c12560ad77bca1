"""The help screen: every key, from the same table as the bindings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.ui.widgets.keys import KEYS, Key, display_key

INTRO = (
    "[b]memtui[/] runs your training in a subprocess and watches its memory. "
    "Every key also works from the command palette (ctrl+p). Keys that do nothing "
    "right now are greyed out in the footer."
)
SYMBOLS = ("Symbols: ▶ training  ✓ finished  ■ stopped  ✗ failed (in the plots: out of memory)  ▲ ≥90% used  "
           "△ ≥75% used  ┃ relaunch  ◆ validation at an epoch's end")


def words_for(key: Key, reasons: Mapping[str, str]) -> str:
    """A key's help line; a key that cannot apply to this run says why."""
    why = reasons.get(key.action)
    words = escape(key.description)
    return f"{words} [dim](not for this run: {escape(why)})[/]" if why else words


def help_markup(reasons: Mapping[str, str] | None = None) -> str:
    """The whole help as one text (for a pager or a test); the screen lays it out in rows."""
    reasons = reasons or {}
    rows = [f"  [b]{escape(display_key(k.key)):>3}[/]  {words_for(k, reasons)}" for k in KEYS]
    return "\n".join([INTRO, "", *rows, "", SYMBOLS, "", CLOSE])


CLOSE = "[dim]escape, ? or q closes this screen[/]"


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", key_display="esc"),
        Binding("down,j", "scroll('down')", "Down", show=False),
        Binding("up,k", "scroll('up')", "Up", show=False),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100%; max-width: 100; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    HelpScreen .key-row { height: auto; }
    /* A key, then its words wrapped under themselves, not under the key. */
    HelpScreen .key { width: 5; text-align: right; text-style: bold; padding-right: 2; }
    HelpScreen .words { width: 1fr; }
    HelpScreen .gap { margin-top: 1; }
    """

    def __init__(self, reasons: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.reasons = dict(reasons or {})  # action -> why its key cannot apply to this run

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys"
            yield Static(INTRO, id="help-text")
            for i, k in enumerate(KEYS):
                with Horizontal(classes="key-row gap" if i == 0 else "key-row"):
                    yield Static(escape(display_key(k.key)), classes="key")
                    yield Static(words_for(k, self.reasons), classes="words")
            yield Static(SYMBOLS, classes="gap")
            yield Static(CLOSE, classes="gap")

    def action_scroll(self, direction: str) -> None:
        scroll = self.query_one(VerticalScroll)
        scroll.scroll_down() if direction == "down" else scroll.scroll_up()
