"""The help screen: every key, from the same table as the bindings."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.widgets.keys import KEYS, display_key

INTRO = (
    "[b]memtui[/] runs your training in a subprocess and watches its memory. "
    "Every key also works from the command palette (ctrl+p). Keys that do nothing "
    "right now are greyed out in the footer."
)
SYMBOLS = "Symbols: ▶ training  ✓ finished  ■ stopped  ✗ failed  ▲ ≥90% used  △ ≥75% used  ┃ relaunch"


def help_markup() -> str:
    rows = [f"  [b]{escape(display_key(k.key)):>3}[/]  {escape(k.description)}" for k in KEYS]
    return "\n".join([INTRO, "", *rows, "", SYMBOLS, "", "[dim]escape, ? or q closes this screen[/]"])


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
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys"
            yield Static(help_markup(), id="help-text")

    def action_scroll(self, direction: str) -> None:
        scroll = self.query_one(VerticalScroll)
        scroll.scroll_down() if direction == "down" else scroll.scroll_up()
