"""The step log as a person sees it: newest steps in view, even after the log
is full, and lines that arrive close together shown without another nudge."""

from __future__ import annotations

import html
import re

from textual.app import App, ComposeResult

from tui.widgets.steplog import MAX_LINES, StepLog


class LogOnly(App[None]):
    def compose(self) -> ComposeResult:
        yield StepLog()


def visible_text(app: App[None]) -> str:
    """What the terminal shows, as plain text."""
    return html.unescape(re.sub(r"<[^>]+>", "", app.export_screenshot())).replace("\xa0", " ")


async def test_a_full_log_still_shows_each_new_line() -> None:
    app = LogOnly()
    async with app.run_test(size=(40, 10)) as pilot:
        log = app.query_one(StepLog)
        for i in range(MAX_LINES):
            log.add(f"old line {i}")
        log.flush()
        await pilot.pause()
        for j in range(3):
            log.add(f"new line {j}")
            log.flush()
            await pilot.pause()
            assert f"new line {j}" in visible_text(app)
        assert len(log.lines) == MAX_LINES


async def test_lines_arriving_together_are_all_written_without_another_line() -> None:
    app = LogOnly()
    async with app.run_test(size=(40, 10)) as pilot:
        log = app.query_one(StepLog)
        log.add("first")  # after a quiet spell: written at once
        log.add("second")  # within the window: written when it closes
        assert log.lines == ["first"]
        await pilot.pause(0.3)
        assert log.lines == ["first", "second"]
        assert "second" in visible_text(app)
