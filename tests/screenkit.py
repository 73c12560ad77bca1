"""The real screen under Textual's pilot, and what a test reads back from it."""

from __future__ import annotations

import html
import re
from pathlib import Path

from textual.app import App

from trainer.config import RunConfig
from tui.session.recovery import Recovery
from tui.ui.app import MemtuiApp
from tui.ui.widgets.header import RunHeader
from tui.ui.widgets.memory import MemoryPanel
from tui.ui.widgets.steplog import StepLog
from tui.ui.widgets.verdict import VerdictPanel

QUICK = RunConfig(epochs=1, steps_per_epoch=10, image_size=32, batch_size=32)


def screen_app(runs: Path, config: RunConfig = QUICK, auto: bool = False, interval: float = 0.5) -> MemtuiApp:
    """The screen, live, launching into `runs`; `auto`: recover on its own."""
    return MemtuiApp(config, runs_dir=runs, recovery=Recovery(auto), interval=interval)


def header(app: MemtuiApp) -> str:
    return str(app.query_one(RunHeader).render())


def verdict(app: MemtuiApp) -> str:
    return str(app.query_one(VerdictPanel).render())


def memory(app: MemtuiApp) -> str:
    return str(app.query_one(MemoryPanel).render())


def log_lines(app: MemtuiApp) -> list[str]:
    """The step log's lines, caught up first."""
    log = app.query_one(StepLog)
    log.flush()
    return [str(line) for line in log.lines]


def log_text(app: MemtuiApp) -> str:
    return "\n".join(log_lines(app))


def visible_text(app: App[None]) -> str:
    """What the terminal shows, as plain text."""
    return html.unescape(re.sub(r"<[^>]+>", "", app.export_screenshot())).replace("\xa0", " ")
