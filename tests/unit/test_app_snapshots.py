"""What the screen looks like, at 80×24, 120×40 (side by side from here) and
200×50, fed from recorded runs; each snapshot is named by its size.

Run `pytest tests/unit/test_app_snapshots.py --snapshot-update` after a deliberate
change and look at the SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from test_app_recorded import cpu_snapshot, feed_oom, feed_recovery, feed_training, make_app
from textual.pilot import Pilot

from tui.ui.widgets.steplog import StepLog

SIZES = [(80, 24), (120, 40), (200, 50)]
BY_SIZE = {"argvalues": SIZES, "ids": [f"{w}x{h}" for w, h in SIZES]}


def before(feed: Callable[[Any], None]) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        feed(pilot.app)
        pilot.app.query_one(StepLog).flush()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", **BY_SIZE)
def test_training(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=before(feed_training))


@pytest.mark.parametrize("size", **BY_SIZE)
def test_out_of_memory_panel(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=before(feed_oom))


@pytest.mark.parametrize("size", **BY_SIZE)
def test_cpu_only_host(snap_compare: Any, size: tuple[int, int]) -> None:
    def feed(app: Any) -> None:
        feed_training(app, gpu=False)
        app.feed_snapshot(cpu_snapshot())

    assert snap_compare(make_app(), terminal_size=size, run_before=before(feed))


@pytest.mark.parametrize("size", **BY_SIZE)
def test_help_screen(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=before(feed_training), press=["question_mark"])


@pytest.mark.parametrize("size", **BY_SIZE)
def test_no_color_out_of_memory(snap_compare: Any, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(make_app(), terminal_size=size, run_before=before(feed_oom))


@pytest.mark.parametrize("size", **BY_SIZE)
def test_relaunch_after_out_of_memory(snap_compare: Any, size: tuple[int, int]) -> None:
    """Two attempts: the plots mark the ending (✗) and the relaunch (┃2) and draw each attempt its own way."""
    assert snap_compare(make_app(), terminal_size=size, run_before=before(feed_recovery))


def test_plots_in_the_logs_place_at_80x24(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=before(feed_recovery), press=["p"])


def test_no_color_plots_at_80x24(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=before(feed_recovery), press=["p"])
