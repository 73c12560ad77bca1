"""The step log as a person sees it: newest steps in view, even after the log
is full, lines that arrive close together shown without another nudge, and the
newest step in the bottom border before the log has caught up."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tests.screenkit import visible_text
from tui.ui.widgets.steplog import FALLBACK_SLACK, LOG_PERIOD, MAX_LINES, StepLog


class LogOnly(App[None]):
    CSS = "StepLog { border: round white; }"  # the screen's log has a border: the newest step sits in it

    def compose(self) -> ComposeResult:
        yield StepLog()


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
        await pilot.pause(LOG_PERIOD + FALLBACK_SLACK + 0.2)  # no screen tick here: the log's own timer
        assert log.lines == ["first", "second"]
        assert "second" in visible_text(app)


async def test_the_newest_step_shows_in_the_border_while_the_log_catches_up() -> None:
    app = LogOnly()
    async with app.run_test(size=(60, 10)) as pilot:
        log = app.query_one(StepLog)
        log.add("e1    1/40 loss 2.3000")  # after a quiet spell: written at once
        log.add("e1    2/40 loss 2.2000")  # waits for the log's next batch
        log.show_newest("e1    2/40 loss 2.2000")
        await pilot.pause()
        shown = visible_text(app)
        assert "e1    2/40" not in shown  # not yet in the log itself...
        assert "newest e1 2/40 loss 2.2000" in shown  # ...but on screen in the border
        log.show_newest(None)
        await pilot.pause()
        assert "newest" not in visible_text(app)


async def test_a_step_in_the_border_is_shown_as_plain_text() -> None:
    app = LogOnly()
    async with app.run_test(size=(60, 10)) as pilot:
        app.query_one(StepLog).show_newest("loss [b]nan[/b]")
        await pilot.pause()
        assert "newest loss [b]nan[/b]" in visible_text(app)


def test_the_start_of_a_run_says_what_data_was_found_and_what_the_trainer_decided() -> None:
    from trainer.protocol import decode, encode
    from tui.ui.screens.main import start_details

    event = decode(encode(
        "run_start", config={}, params=1, devices=[], tf_version="2.21", keras_version="3.15", memory_growth=False,
        dataset={"files": 1200, "classes": 3, "skipped": 2, "skipped_examples": ["a/bad.jpg", "b/notes.jpg"]},
        notes=["demo on a CPU-only host: training at 64x64 instead of 256x256 so it stays quick"],
    ))
    assert start_details(event) == [  # type: ignore[arg-type]
        "── data: 1,200 images in 3 classes; 2 unreadable skipped (a/bad.jpg, b/notes.jpg)",
        "── note: demo on a CPU-only host: training at 64x64 instead of 256x256 so it stays quick",
    ]


def merged(strip: object) -> list[tuple[str, object]]:
    """A row's segments with neighbours of one style joined: how it looks."""
    out: list[tuple[str, object]] = []
    for seg in strip:  # type: ignore[attr-defined]
        if out and out[-1][1] == seg.style:
            out[-1] = (out[-1][0] + seg.text, seg.style)
        elif seg.text:
            out.append((seg.text, seg.style))
    return out


async def test_each_line_renders_as_logs_own_rendering_would_in_every_theme() -> None:
    from textual.widgets import Log

    from tui.ui.themes import load_themes

    lines = ["e1   35/40 loss 0.1234 acc 0.50", "", "✗ ResourceExhaustedError: OOM 全角 width",
             "tab\there", "escape \x1b[31m not a colour", "── started: 3,453,130 parameters"]
    app = LogOnly()
    async with app.run_test(size=(60, 10)) as pilot:
        for theme in load_themes().themes:
            app.register_theme(theme)
        log = app.query_one(StepLog)
        for line in lines:
            log.add(line)
        log.flush()
        await pilot.pause()
        for theme in [t.name for t in load_themes().themes] + ["ansi"]:
            if theme == "ansi":  # a terminal's own 16 colours, as under memtui's ANSI fallback
                app.ansi_color = True
            else:
                app.theme = theme
            await pilot.pause()
            style = log.rich_style
            assert len(log.lines) == len(lines) - 1  # Log writes no row for an empty line
            for y, line in enumerate(log.lines):
                log._render_line_cache.clear()  # Log's own would hand back our kept line
                theirs = Log._render_line_strip(log, y, style)
                log._render_line_cache.clear()
                ours = log._render_line_strip(y, style)
                assert merged(ours) == merged(theirs), (theme, line)
                assert ours.cell_length == theirs.cell_length
                assert log._render_line_strip(y, style) is ours  # kept: the next frame does not make it again


async def test_lines_kept_for_the_next_frame_follow_a_theme_change_and_pruning() -> None:
    app = LogOnly()
    async with app.run_test(size=(40, 6)) as pilot:
        log = app.query_one(StepLog)
        for i in range(MAX_LINES):
            log.add(f"line {i}")
        log.flush()
        await pilot.pause()
        before = log._render_line_strip(MAX_LINES - 1, log.rich_style)
        app.theme = "textual-light"
        await pilot.pause()
        after = log._render_line_strip(MAX_LINES - 1, log.rich_style)
        assert after is not before and merged(after)[0][1] == log.rich_style  # restyled, not the old colours
        log.add("one more")
        log.flush()
        await pilot.pause()
        assert log._render_line_strip(MAX_LINES - 1, log.rich_style).text == "one more"
        assert log._render_line_strip(MAX_LINES - 2, log.rich_style).text == f"line {MAX_LINES - 1}"
        assert "one more" in visible_text(app)
