"""The trainer's full log (`RUN/trainer.log`), read in a worker thread and
shown scrollable; the event loop never touches the file."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Footer, Log

MAX_BYTES = 4 << 20  # a TensorFlow log can be huge; the tail is what matters


def read_tail(path: Path, max_bytes: int = MAX_BYTES) -> list[str]:
    """The last `max_bytes` of the log as lines, or one line saying why not."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except FileNotFoundError:
        return [f"(no log yet: {path} does not exist)"]
    except OSError as exc:
        return [f"(cannot read {path}: {exc.strerror})"]
    lines = data.decode("utf-8", errors="replace").splitlines()
    if size > max_bytes:
        lines[0] = f"(showing the last {max_bytes >> 20} MiB of {size >> 20} MiB)"
    return lines or ["(the log is empty so far)"]


class LogScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,l,q", "dismiss", "Close"),
        Binding("r", "reload", "Reload"),
        Binding("g,home", "top", "Top", show=False),
        Binding("G,end", "bottom", "Bottom", show=False),
    ]
    DEFAULT_CSS = """
    LogScreen { background: $background 60%; }
    LogScreen > Log { border: round $primary; height: 1fr; }
    """

    def __init__(self, path: Path | None) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        log = Log(id="trainer-log", max_lines=200_000)
        log.border_title = f"trainer log: {self.path}" if self.path else "trainer log"
        log.border_subtitle = "↑↓ PgUp PgDn scroll · r reload · esc close"
        yield log
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Log).focus()
        self.action_reload()

    def action_reload(self) -> None:
        if self.path is None:
            self.query_one(Log).write_line("(no run yet, so no log)")
            return
        self._load(self.path)

    @work(thread=True, exclusive=True, group="log")
    def _load(self, path: Path) -> None:
        lines = read_tail(path)
        self.app.call_from_thread(self._show, lines)

    def _show(self, lines: list[str]) -> None:
        log = self.query_one(Log)
        log.clear()
        log.write_lines(lines)

    def action_top(self) -> None:
        self.query_one(Log).scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.query_one(Log).scroll_end(animate=False)
