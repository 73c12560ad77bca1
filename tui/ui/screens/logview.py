"""The trainer's full log (`RUN/trainer.log`), read in a worker thread and
shown scrollable; the event loop never touches the file. A group of workers
(`--workers N`) has a log per rank: `w` goes to the next one."""

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
        Binding("w", "next_worker", "Next worker's log"),
        Binding("g,home", "top", "Top", show=False),
        Binding("G,end", "bottom", "Bottom", show=False),
    ]
    DEFAULT_CSS = """
    LogScreen { background: $background 60%; }
    LogScreen > Log { border: round $primary; height: 1fr; }
    """

    def __init__(self, path: Path | None, workers: tuple[Path, ...] = ()) -> None:
        super().__init__()
        self.path = path
        self.paths = (path, *workers) if path is not None and workers else ()  # rank 0's, rank 1's, ...

    def compose(self) -> ComposeResult:
        log = Log(id="trainer-log", max_lines=200_000)
        log.border_title = self._title()
        worker_key = " · w next worker" if self.paths else ""
        log.border_subtitle = f"↑↓ PgUp PgDn scroll · r reload{worker_key} · esc close"
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

    def _title(self) -> str:
        if self.path is None:
            return "trainer log"
        if self.paths:
            return f"worker rank {self.paths.index(self.path)} of {len(self.paths)} log: {self.path}"
        return f"trainer log: {self.path}"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return bool(self.paths) if action == "next_worker" else True

    def action_next_worker(self) -> None:
        if not self.paths:
            return
        self.path = self.paths[(self.paths.index(self.path) + 1) % len(self.paths)]
        self.query_one(Log).border_title = self._title()
        self.action_reload()

    def action_top(self) -> None:
        self.query_one(Log).scroll_home(animate=False)

    def action_bottom(self) -> None:
        self.query_one(Log).scroll_end(animate=False)
