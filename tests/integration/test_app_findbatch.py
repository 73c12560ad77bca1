"""`f` on the screen: the search shows in the header (probe, range still open,
ETA) and as dim rows of the attempts table; `s` or Esc cancels it. The probes
are real stand-in trainer processes that run out of memory above a batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.screenkit import QUICK, header, log_text, screen_app
from tests.waiting import wait_for
from tui.ui.widgets.history import HistoryTable


async def test_the_search_shows_its_probes_in_the_header_and_the_table_then_relaunches(
    script: Any, isolated_dirs: Path
) -> None:
    script(rate=200, oom_above_batch=40)
    app = screen_app(isolated_dirs, QUICK.replace(batch_size=8, data=None))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "finished", "the first run to finish")
        # Probes that take a moment to start, as a real trainer's do: the search's line
        # is on screen for a while, not for the few frames a loaded machine may skip.
        script(rate=200, oom_above_batch=40, start_delay=0.3)
        await pilot.press("f")
        await wait_for(pilot, lambda: "find batch: probe" in header(app), "the search in the header")
        assert "cancels" in header(app)
        await wait_for(pilot, lambda: app.attempt is not None and app.attempt.number == 2, "the relaunch")
        table = app.query_one(HistoryTable)
        probes = [table.get_row(key) for key in table.row_keys if key.startswith("p")]
        assert probes, "each probe is a row of the table"
        assert all(row[1].startswith("probe b") for row in probes)
        outcomes = {row[1]: row[2] for row in probes}
        assert outcomes["probe b16"] == "fits" and outcomes["probe b64"] == "✗ out of memory"
        assert "find batch: probe" not in header(app), "the search line goes once the search is over"
        assert app.attempt is not None and app.attempt.config is not None
        assert app.attempt.config.batch_size == 36  # 40 fits, 41 does not; 90% margin
        assert "largest fitting 40" in log_text(app)
        await wait_for(pilot, lambda: app.run_state == "finished", "the relaunched run to finish")


async def test_escape_cancels_the_search_and_nothing_is_relaunched(script: Any, isolated_dirs: Path) -> None:
    script(rate=200)
    app = screen_app(isolated_dirs, QUICK.replace(batch_size=8, data=None))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "finished", "the first run to finish")
        script(rate=2, steps=10_000)  # the probe trains slowly, so there is time to cancel it
        await pilot.press("f")
        table = app.query_one(HistoryTable)
        await wait_for(pilot, lambda: "p1" in table.row_keys and table.get_row("p1")[2] == "… probing",
                       "the first probe's row")
        assert app.check_action("cancel_search", ()) is True
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.searching, "the search to end")
        assert "cancelled; nothing was relaunched" in log_text(app)
        assert table.get_row("p1")[2] == "cancelled", "a cancelled probe does not stay 'probing'"
        assert app.attempt is not None and app.attempt.number == 1
        assert app.check_action("cancel_search", ()) is None
