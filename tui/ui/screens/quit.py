"""Quit while a run is going: stop it, leave it running, or cancel."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

STOP, LEAVE, CANCEL = "stop", "leave", "cancel"


class QuitScreen(ModalScreen[str]):
    """Answers STOP, LEAVE or CANCEL; everything from the keyboard."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "choose('stop')", "Stop it and quit"),
        Binding("l", "choose('leave')", "Leave it running"),
        Binding("escape,c,n", "choose('cancel')", "Cancel"),
    ]
    DEFAULT_CSS = """
    QuitScreen { align: center middle; }
    QuitScreen > Vertical {
        width: 60; max-width: 100%; height: auto;
        border: thick $warning; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, run_words: str) -> None:
        super().__init__()
        self.run_words = run_words

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Quit memtui?"
            yield Static(f"A run is going ({self.run_words}).", markup=False)
            yield Static(
                "[b]s[/]  stop it (graceful: it saves first), then quit\n"
                "[b]l[/]  leave it running; come back with [b]memtui attach[/]\n"
                "[b]esc[/]  cancel, stay here"
            )

    def action_choose(self, answer: str) -> None:
        self.dismiss(answer)
