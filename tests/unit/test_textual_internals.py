"""The fence around Textual's internals (tui/ui/textual_internals.py), without tmux:

- the installed Textual is the one the fence targets, and pyproject pins it;
- every private name it relies on is there, with the shape it uses, on real
  objects of a running app, and each function gives what its callers expect;
- the probe notices a name gone or reshaped;
- with the probe failing, the widgets fall back to plain Textual rendering and
  show the same thing, line for line.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.app import App, ComposeResult
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Log

from trainer.config import RunConfig
from tui.supervision.attempt import AttemptInfo
from tui.ui import textual_internals as internals
from tui.ui.widgets.history import HistoryTable
from tui.ui.widgets.steplog import StepLog

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
CONFIG = RunConfig(image_size=64, batch_size=64, epochs=3, steps_per_epoch=40)


class Both(App[None]):
    CSS = "StepLog { border: round white; }"

    def compose(self) -> ComposeResult:
        yield HistoryTable()
        yield StepLog()


def attempt(number: int, **changes: Any) -> AttemptInfo:
    base = AttemptInfo(number=number, run_id=f"run-{number}", run_dir=Path("/nonexistent"), config=CONFIG,
                       reason="launch", state="training", started=0.0)
    return replace(base, **changes)


def test_the_installed_textual_is_the_one_targeted_and_pinned() -> None:
    installed = version("textual")
    assert installed.startswith(internals.TEXTUAL_TARGET + "."), installed
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    major, minor = internals.TEXTUAL_TARGET.split(".")
    assert f"textual>={major}.{minor},<{major}.{int(minor) + 1}" in deps, deps


async def test_every_name_relied_on_is_there_with_its_shape() -> None:
    app = Both()
    async with app.run_test(size=(60, 16)) as pilot:
        table, log = app.query_one(HistoryTable), app.query_one(StepLog)
        log.add("e1    1/40 loss 2.3000")
        log.flush()
        log.show_newest("e1    1/40 loss 2.3000")
        await pilot.pause()
        assert internals.problems(log) == []
        assert internals.problems(table) == []
        assert log.fast and log.painter.disabled is False  # the fence is in use, not the fallback

        screen = app.screen
        assert internals.frame_settled(app, screen) is True
        placed = internals.placement(screen, log)
        assert placed is not None and all(isinstance(r, Region) for r in placed)
        region, _clip = placed
        assert region == log.region
        bottom = region.bottom - 1
        on_row = internals.widgets_on_row(screen, bottom)
        assert on_row is not None
        assert any(w is log for w, _, _ in on_row)
        assert all(isinstance(w, Widget) and isinstance(c, Region) and isinstance(k, Region) for w, c, k in on_row)
        assert internals.widgets_on_row(screen, 10_000) is None

        y, width = log.outer_size.height - 1, log.outer_size.width
        strip, cached = internals.render_row(log, y, width)
        assert isinstance(strip, Strip) and isinstance(cached, Strip)
        assert "newest e1 1/40" in strip.text
        assert internals.cached_row(log, y, width) is cached
        assert internals.cached_row(log, y, width + 1) is None  # another width: not the row on screen
        swapped = Strip([Segment(cached.text.replace("1/40", "2/40"))], width)
        internals.replace_cached_row(log, y, swapped)
        assert internals.cached_row(log, y, width) is swapped

        written: list[str] = []
        driver = app._driver  # the test looks at the driver the fence writes to
        assert driver is not None
        driver.write, driver.flush = written.append, lambda: None  # type: ignore[method-assign]
        internals.write_now(app, "body")
        assert written == ["body"]  # no synchronised output in the headless driver
        app._sync_available = True
        internals.write_now(app, "body")
        assert written[1] == "\x1b[?2026hbody\x1b[?2026l"

        internals.update_scrollbars(log, Size(10, 100))
        assert log.line_text(0) == "e1    1/40 loss 2.3000"
        assert isinstance(log.cached_line(0), Strip)  # drawn once, kept in Log's cache
        assert log.cached_line(1) is None
        log.cache_line(1, Strip([Segment("x")], 1))  # Log's LRU cache keeps a line until it is cleared
        assert log.cached_line(1).text == "x"  # type: ignore[union-attr]


def _breakages() -> Iterator[tuple[str, str, Any]]:
    yield "app", "_batch_count", "many"  # reshaped: not an int
    yield "app", "_driver", 3
    yield "app", "_sync_available", None
    yield "app", "_running", None
    yield "screen", "_layout_required", None
    yield "screen", "_compositor", None
    yield "log", "_styles_cache", None
    yield "log", "_render_line_cache", None
    yield "log", "_lines", None


@pytest.mark.parametrize(("owner", "name", "value"), list(_breakages()), ids=lambda v: str(v))
async def test_the_probe_notices_an_attribute_gone_or_reshaped(owner: str, name: str, value: Any) -> None:
    app = Both()
    async with app.run_test(size=(60, 16)):
        log = app.query_one(StepLog)
        target = {"app": app, "screen": app.screen, "log": log}[owner]
        saved = getattr(target, name)
        try:
            if value is None:
                delattr(target, name)
            else:
                setattr(target, name, value)
            found = internals.problems(log)
        finally:
            setattr(target, name, saved)
        assert found and name in " ".join(found), found
        assert internals.problems(log) == []


def _reshaped_cache(cache: Any) -> None:
    cache._dirty_lines = list(cache._dirty_lines)


@pytest.mark.parametrize("change", ["signature", "method gone", "cache reshaped", "compositor map"])
async def test_the_probe_notices_a_method_or_inner_shape_changed(
        change: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = Both()
    async with app.run_test(size=(60, 16)):
        log = app.query_one(StepLog)
        if change == "signature":
            monkeypatch.setattr(Log, "_render_line_strip", lambda self, y: None)
            expect = "_render_line_strip"
        elif change == "method gone":
            monkeypatch.delattr(Widget, "_scroll_update")
            expect = "_scroll_update"
        elif change == "cache reshaped":
            monkeypatch.setattr(log._styles_cache, "_dirty_lines", [])
            expect = "_dirty_lines"
        else:
            monkeypatch.delattr(type(app.screen._compositor), "layers_visible")
            expect = "layers_visible"
        found = internals.problems(log)
        assert found and expect in " ".join(found), found


def cells(widget: Widget) -> list[list[tuple[str, Style | None]]]:
    """The widget's rows as Textual renders them, border included: (character,
    style) per cell, so two renderings that split segments differently compare equal."""
    rows = widget.render_lines(Region(0, 0, *widget.outer_size))
    return [[(ch, seg.style) for seg in strip for ch in seg.text] for strip in rows]


async def render_both(force_fallback: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    if force_fallback:
        monkeypatch.setattr(internals, "problems", lambda widget: ["forced by the test"])
    app = Both()
    async with app.run_test(size=(60, 16)) as pilot:
        table, log = app.query_one(HistoryTable), app.query_one(StepLog)
        table.record(attempt(1, state="oom", steps=12, peak_memory=3 << 30, steps_per_second=18.5))
        table.record(attempt(2, steps=40))
        for i in range(1, 30):
            log.add(f"e1 {i:4d}/40 loss {2.3 - i / 100:.4f}\tlr 1e-3")
        log.flush()
        log.show_newest("e1   29/40 loss 2.0100")
        await pilot.pause()
        table.record(attempt(2, steps=41, steps_per_second=19.0))  # the live row: one line repainted
        log.show_newest("e1   30/40 loss 2.0000")  # the border row: the painter's or Textual's
        await pilot.pause()
        state = (log.fast, log.painter.disabled, log.measure_width)
        return state, cells(log), cells(table), _visible(app.export_screenshot())


def _visible(svg: str) -> str:
    return re.sub(r"terminal-\d+", "terminal", svg)


async def test_with_the_probe_failing_the_widgets_render_the_same_through_textual(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fenced = await render_both(False, monkeypatch)
    plain = await render_both(True, monkeypatch)
    assert fenced[0] == (True, False, False)  # the fence in use: own line strips, no width worker
    assert plain[0] == (False, True, True)  # plain Textual: painter off, Log's own rendering and worker
    assert plain[1] == fenced[1], "the step log differs"
    assert plain[2] == fenced[2], "the attempts table differs"
    assert plain[3] == fenced[3], "the screen differs"
    assert "newest e1 30/40 loss 2.0000" in "".join(ch for ch, _ in plain[1][-1])
    assert "e1   29/40" in "".join(ch for row in plain[1] for ch, _ in row)


async def test_a_failing_probe_leaves_the_painter_off_for_good(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(internals, "problems", lambda widget: ["forced by the test"])
    app = Both()
    async with app.run_test(size=(60, 16)) as pilot:
        log = app.query_one(StepLog)
        assert log.painter.paint(log.outer_size.height - 1, "newest x") is False
        assert log.painter.disabled is True
        monkeypatch.undo()  # even once the probe would pass: decided once, on the first paint
        assert log.painter.paint(log.outer_size.height - 1, "newest x") is False
        await pilot.pause()


def row_texts(written: list[str], widget: Widget, y: int) -> list[str]:
    """Row `y` of `widget` in each write to the terminal that drew it (the
    painter's and Textual's frames alike), from the cursor move to it up to the
    next line or cursor move."""
    region = widget.region
    move = f"\x1b[{region.y + y + 1};{region.x + 1}H"
    found = []
    for text in written:
        if move in text:
            rest = text.split(move, 1)[1].split("\n", 1)[0]
            found.append(re.split(r"\x1b\[\d+;\d+H", rest, maxsplit=1)[0])
    return found


async def textual_frame_row(pilot: Any, written: list[str], widget: Widget, y: int) -> str:
    """Row `y` of `widget` as Textual's own frame draws it after a full repaint."""
    written.clear()
    widget.refresh()
    await pilot.pause()
    (row,) = row_texts(written, widget, y)
    return row


@pytest.mark.parametrize("force_fallback", [False, True], ids=["fence", "probe failing"])
async def test_the_painted_row_is_the_row_textual_draws(force_fallback: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if force_fallback:
        monkeypatch.setattr(internals, "problems", lambda widget: ["forced by the test"])
    app = Both()
    async with app.run_test(size=(60, 16)) as pilot:
        log = app.query_one(StepLog)
        log.add("e1    1/40 loss 2.3000")
        log.flush()
        log.show_newest("e1    1/40 loss 2.3000")
        await pilot.pause()
        y = log.outer_size.height - 1
        written: list[str] = []
        driver = app._driver  # what is written to the terminal, caught
        assert driver is not None
        monkeypatch.setattr(driver, "write", written.append)
        # run_test's app is headless, where the painter never paints and frames are not written.
        monkeypatch.setattr(App, "is_headless", property(lambda self: False))

        log.show_newest("e1    2/40 loss 2.2000")  # rendered by the styles cache
        log.show_newest("e1    3/40 loss 2.1000")  # same width: swapped into the last row
        painted = row_texts(written, log, y)
        drawn = await textual_frame_row(pilot, written, log, y)
        written.clear()
        log.show_newest("e1   10/40 loss 12.1000")  # wider: rendered again
        wider = row_texts(written, log, y)
        wider_drawn = await textual_frame_row(pilot, written, log, y)
        counts = (log.painter.swaps, log.painter.renders)
    assert "newest e1 3/40 loss 2.1000" in drawn and "newest e1 10/40 loss 12.1000" in wider_drawn
    if force_fallback:
        assert painted == wider == [] and counts == (0, 0)  # no paint without a frame: all drawn by Textual
    else:
        assert counts == (1, 2) and len(painted) == 2
        assert painted[-1] == drawn
        assert wider == [wider_drawn]
