"""The attempts table on its own: what it draws, what a change repaints, scrolling, themes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable

from trainer.config import RunConfig
from tui.supervision.attempt import AttemptInfo
from tui.ui.themes import load_themes
from tui.ui.widgets.history import COLUMNS, HistoryTable, row

GIB = 1 << 30
CONFIG = RunConfig(image_size=64, batch_size=64, epochs=3, steps_per_epoch=40)


def attempt(number: int, state: str = "training", **changes: object) -> AttemptInfo:
    base = AttemptInfo(number=number, run_id=f"run-{number}", run_dir=Path("/nonexistent"), config=CONFIG,
                       reason="launch", state=state, started=0.0)
    return replace(base, **changes)  # type: ignore[arg-type]


class TableApp(App[None]):
    CSS = "HistoryTable { max-height: 5; }"

    def __init__(self, ansi_color: bool | None = None) -> None:
        super().__init__(ansi_color=ansi_color)
        self.loaded = load_themes()
        for theme in self.loaded.themes:
            self.register_theme(theme)
        self.theme = "memtui-dark"

    def compose(self) -> ComposeResult:
        yield HistoryTable(id="history")


def lines(table: HistoryTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


def three_attempts(table: HistoryTable) -> None:
    table.record(attempt(1, "oom", steps=75, peak_memory=3 * GIB, steps_per_second=8.0))
    table.record(attempt(2, "finished", config=replace(CONFIG, batch_size=32), steps=120, peak_memory=2 * GIB,
                         steps_per_second=9.5))
    table.record(attempt(3, "training", steps=10, peak_memory=GIB, steps_per_second=7.5))


async def test_rows_show_their_cells_under_the_header() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(HistoryTable)
        assert lines(table) == [" #  config  outcome  steps  peak  steps/s " + " " * 38]  # before any attempt
        three_attempts(table)
        await pilot.pause()
        assert table.row_count == 3
        assert table.get_row("1") == ["1", "small b64 fp32", "✗ out of memory", "75", "3.0 GiB", "8.0"]
        assert table.get_row("3")[2] == "▶ training"
        assert [line.rstrip() for line in lines(table)] == [
            " #  config          outcome          steps  peak     steps/s",
            " 1  small b64 fp32  ✗ out of memory  75     3.0 GiB  8.0",
            " 2  small b32 fp32  ✓ finished       120    2.0 GiB  9.5",
            " 3  small b64 fp32  ▶ training       10     1.0 GiB  7.5",
        ]
        assert all(len(line) == 80 for line in lines(table))  # filled to the widget's width


async def test_a_live_update_repaints_only_its_own_line() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(HistoryTable)
        three_attempts(table)
        await pilot.pause()
        before = lines(table)
        strips = [table.render_line(y) for y in range(3)]
        refreshed: list[tuple[Region, ...]] = []
        refresh = table.refresh

        def spy(*regions: Region, **kwargs: Any) -> HistoryTable:
            refreshed.append(regions)
            return refresh(*regions, **kwargs)

        table.refresh = spy  # type: ignore[method-assign]

        table.record(attempt(3, "training", steps=11, peak_memory=GIB, steps_per_second=7.5))
        table.record(attempt(1, "oom", steps=75, peak_memory=3 * GIB, steps_per_second=8.0))  # unchanged
        await pilot.pause()

        assert refreshed == [(Region(0, 3, 80, 1),)]  # the live row's line, nothing else
        after = lines(table)
        assert [y for y in range(len(after)) if after[y] != before[y]] == [3]
        assert after[3].startswith(" 3  small b64 fp32  ▶ training       11 ")
        # The other lines are the very strips drawn before: not rendered again.
        assert all(table.render_line(y) is strips[y] for y in range(3))


async def test_a_wider_value_widens_its_column_and_repaints_the_table() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(HistoryTable)
        three_attempts(table)
        await pilot.pause()
        header = lines(table)[0]
        width = table.virtual_size.width
        table.record(attempt(3, "training", steps=1234567, peak_memory=GIB, steps_per_second=7.5))
        await pilot.pause()
        shown = lines(table)
        assert table.virtual_size.width == width + 2  # "1234567" is 2 wider than "steps"
        assert shown[0].index("peak") == header.index("peak") + 2
        assert shown[3].startswith(" 3  small b64 fp32  ▶ training       1234567  1.0 GiB  7.5 ")
        assert shown[1].index("3.0 GiB") == shown[0].index("peak")  # every row moved with it
        # Narrower again: the column goes back to its widest cell.
        table.record(attempt(3, "training", steps=12, peak_memory=GIB, steps_per_second=7.5))
        await pilot.pause()
        assert lines(table)[0] == header


async def test_more_attempts_than_fit_keep_the_newest_in_view_and_the_keys_scroll() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(HistoryTable)
        for number in range(1, 11):
            table.record(attempt(number, "oom", steps=number))
            await pilot.pause()
        await pilot.pause()
        assert table.size.height == 5  # max-height: the header and four rows
        shown = lines(table)
        assert shown[0].startswith(" #   config")  # the header stays on top
        assert [line.split()[0] for line in shown[1:]] == ["7", "8", "9", "10"]
        assert table.scroll_y == table.max_scroll_y > 0
        assert app.focused is table  # focusable, as the DataTable was
        await pilot.press("up", "up")
        await pilot.pause()
        assert [line.split()[0] for line in lines(table)[1:]] == ["5", "6", "7", "8"]
        await pilot.press("home")
        await pilot.pause()
        assert [line.split()[0] for line in lines(table)[1:]] == ["1", "2", "3", "4"]
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert [line.split()[0] for line in lines(table)[1:]] == ["7", "8", "9", "10"]
        await pilot.press("ctrl+home")
        await pilot.pause()
        assert lines(table)[1].split()[0] == "1"
        # A new attempt scrolls back to the end.
        table.record(attempt(11, "starting"))
        await pilot.pause()
        await pilot.pause()
        assert lines(table)[-1].split()[0] == "11"


async def test_cell_text_is_shown_literally_not_as_markup() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(HistoryTable)
        table.record(attempt(1, "[bold]odd[/] [x"))
        table.record(attempt(2, "tab\there"))
        await pilot.pause()
        row = table.render_line(1)
        assert " 1  small b64 fp32  [bold]odd[/] [x " in row.text
        assert not any(segment.style and segment.style.bold for segment in row)
        assert table.get_row("2")[2] == "tab\there"  # the cell as given...
        assert "tab here" in table.render_line(2).text  # ...drawn without the control character


def header_and_row_colours(table: HistoryTable) -> tuple[Style, Style]:
    header: Strip = table.render_line(0)
    row: Strip = table.render_line(1)
    return next(iter(header)).style or Style(), next(iter(row)).style or Style()


async def test_theme_changes_restyle_the_table() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(HistoryTable)
        three_attempts(table)
        await pilot.pause()
        dark_header, dark_row = header_and_row_colours(table)
        assert dark_header.bold and not dark_row.bold
        assert dark_header.bgcolor != dark_row.bgcolor
        for name in [*app.loaded.names, "textual-light"]:
            app.theme = name
            await pilot.pause()
            header, row = header_and_row_colours(table)
            assert header.bgcolor == table.get_component_rich_style("history--header").bgcolor, name
            assert row.bgcolor == table.rich_style.bgcolor, name
            assert header.bold, name
        app.theme = "memtui-light"
        await pilot.pause()
        light_header, light_row = header_and_row_colours(table)
        assert (light_header.bgcolor, light_row.bgcolor) != (dark_header.bgcolor, dark_row.bgcolor)
        assert light_row.color != dark_row.color


async def test_focus_tints_the_table_like_the_datatable_did() -> None:
    app = TableApp()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(HistoryTable)
        three_attempts(table)
        await pilot.pause()
        assert app.focused is table
        focused = header_and_row_colours(table)
        table.blur()
        await pilot.pause()
        blurred = header_and_row_colours(table)
        assert focused[0].bgcolor != blurred[0].bgcolor and focused[1].bgcolor != blurred[1].bgcolor


async def test_ansi_colours_give_the_header_its_ansi_look() -> None:
    app = TableApp(ansi_color=True)
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(HistoryTable)
        three_attempts(table)
        await pilot.pause()
        header, _ = header_and_row_colours(table)
        assert header.bgcolor is not None and header.bgcolor.number == 12  # ansi_bright_blue
        assert header.color is not None and header.color.is_default
        assert header.bold


class BothApp(TableApp):
    """The table beside the DataTable it replaced, set up as the old HistoryTable was."""

    CSS = "HistoryTable, DataTable { max-height: 5; }"

    def compose(self) -> ComposeResult:
        yield HistoryTable(id="history")
        yield DataTable[str](cursor_type="none", zebra_stripes=False, show_cursor=False, id="old")


async def test_it_draws_what_the_datatable_drew_in_every_theme_focused_or_not() -> None:
    app = BothApp()
    async with app.run_test(size=(80, 12)) as pilot:
        new, old = app.query_one(HistoryTable), app.query_one("#old", DataTable)
        for name in COLUMNS:
            old.add_column(name, key=name)
        infos = [attempt(1, "oom", steps=75, peak_memory=3 * GIB, steps_per_second=8.0),
                 attempt(2, "finished", steps=1200, peak_memory=2 * GIB, steps_per_second=19.5)]
        for info in infos:
            new.record(info)
            old.add_row(*row(info), key=str(info.number))
        await pilot.pause()
        for name in [*app.loaded.names, "textual-light", "textual-dark"]:
            app.theme = name
            drawn: dict[tuple[str, bool], list[list[Segment]]] = {}
            for focus in (new, old):
                focus.focus()
                await pilot.pause()
                assert new.size == old.size
                for table in (new, old):
                    drawn[table.id or "", table is focus] = [list(table.render_line(y)) for y in range(5)]
            for focused in (True, False):
                assert drawn["history", focused] == drawn["old", focused], (name, focused)
            assert drawn["history", True] != drawn["history", False]


async def test_a_table_wider_than_the_widget_is_clipped_and_scrolls_sideways_as_the_datatable_did() -> None:
    app = BothApp()
    async with app.run_test(size=(40, 14)) as pilot:
        new, old = app.query_one(HistoryTable), app.query_one("#old", DataTable)
        for name in COLUMNS:
            old.add_column(name, key=name)
        for info in (attempt(1, "oom", steps=75, peak_memory=3 * GIB), attempt(2, "training", steps=5)):
            new.record(info)
            old.add_row(*row(info), key=str(info.number))
        app.set_focus(None)  # neither focused, so both are drawn alike
        await pilot.pause()
        assert new.virtual_size.width > 40 and new.show_horizontal_scrollbar
        assert new.size == old.size and new.size.width == 40
        for x in (0, 7, 100):
            new.scroll_to(x=x, animate=False)
            old.scroll_to(x=x, animate=False)
            await pilot.pause()
            assert new.scroll_x == old.scroll_x
            shown = [list(new.render_line(y)) for y in range(new.size.height)]
            assert shown == [list(old.render_line(y)) for y in range(old.size.height)], x
            assert all(sum(len(segment.text) for segment in line) == 40 for line in shown)
        assert new.render_line(1).text.rstrip().endswith("3.0 GiB  –")  # scrolled to the last column
