"""Quit while a run is going: stop it, leave it running, or cancel.

The dialog follows the run: when the run ends while it is open it says so and
`q` quits; when a relaunch (auto-recover) starts another attempt it offers
stop and leave again.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

STOP, LEAVE, CANCEL, QUIT = "stop", "leave", "cancel", "quit"

GOING_CHOICES = (
    "[b]s[/]  stop it (graceful: it saves first), then quit\n"
    "[b]l[/]  leave it running; come back with [b]memtui attach[/]\n"
    "[b]esc[/]  cancel, stay here"
)
ENDED_CHOICES = "[b]q[/]  quit\n[b]esc[/]  stay here"


class QuitScreen(ModalScreen[str]):
    """Answers STOP, LEAVE or CANCEL while the run goes; QUIT or CANCEL once it ended."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "choose('stop')", "Stop it and quit"),
        Binding("l", "choose('leave')", "Leave it running"),
        Binding("q", "choose('quit')", "Quit", show=False),
        Binding("escape,c,n", "choose('cancel')", "Cancel"),
    ]
    DEFAULT_CSS = """
    QuitScreen { align: center middle; }
    QuitScreen > Vertical {
        width: 60; max-width: 100%; height: auto;
        border: thick $warning; background: $surface; padding: 0 1;
    }
    QuitScreen.-ended > Vertical { border: thick $success; }
    """

    def __init__(self, run_words: str) -> None:
        super().__init__()
        self.run_words = run_words
        self.ended: str | None = None  # how the run ended, once it has
        self.what = Static(self._what(), markup=False, id="quit-what")
        self.choices = Static(GOING_CHOICES, id="quit-choices")

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Quit memtui?"
            yield self.what
            yield self.choices

    def _what(self) -> str:
        if self.ended is not None:
            return f"The run has ended ({self.run_words}: {self.ended}); nothing is left to stop."
        return f"A run is going ({self.run_words})."

    def follow(self, run_words: str, ended: str | None) -> None:
        """The run moved on: `ended` says how it ended, None when an attempt is going again."""
        self.run_words, self.ended = run_words, ended
        self.what.update(self._what())
        self.choices.update(ENDED_CHOICES if ended is not None else GOING_CHOICES)
        self.set_class(ended is not None, "-ended")

    def action_choose(self, answer: str) -> None:
        # Every key here is the dialog's own, always (a key it refused would fall
        # through to the screen below: `q` would open a second dialog); one that
        # does not fit the run as it stands now only rings the bell.
        if (answer in (STOP, LEAVE) and self.ended is not None) or (answer == QUIT and self.ended is None):
            self.app.bell()
            return
        self.dismiss(answer)
