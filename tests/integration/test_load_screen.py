"""Load (issue 7): a trainer writing 2,000 events a second for 10 seconds (bench/load.py runs 60),
through the real Supervisor into the real screen.

The screen keeps up: keys are still handled while the events pour in, the log
ends with the newest line, every event the trainer wrote is stored and counted,
and memtui's memory stays bounded (the step log keeps at most MAX_LINES lines
and the attempt keeps only its recent events). Times are measured by
`bench/load.py`, never asserted here.
"""

from __future__ import annotations

import gc
from pathlib import Path

import psutil
import pytest
from textual.widgets._footer import FooterKey

from tests.faultkit import leftovers, run_dir, stored, use_stand_in
from tests.screenkit import header, log_lines, screen_app
from tests.supervision import in_order
from tests.waiting import wait_for
from trainer.config import RunConfig
from trainer.protocol import Garbage, RunEnd, RunStart, Step
from tui.ui.widgets.steplog import MAX_LINES, StepLog

RATE = 2000
SECONDS = 10
MIB = 1024**2


async def test_2000_events_a_second_are_all_stored_and_shown_newest_last_with_bounded_memory(
    monkeypatch: pytest.MonkeyPatch, isolated_dirs: Path
) -> None:
    steps = RATE * SECONDS
    use_stand_in(monkeypatch, rate=RATE, steps=steps)
    app = screen_app(isolated_dirs, RunConfig(epochs=1, steps_per_epoch=steps, image_size=32), interval=1.0)
    me = psutil.Process()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.attempt is not None and app.attempt.steps >= 100, "the first steps")
        baseline = me.memory_info().rss
        highest = baseline
        toggles = 0
        while app.run_state == "training":
            # Keys are handled while loaded: each press flips auto-recover.
            before = app.auto_recover
            await pilot.press("A")
            await wait_for(pilot, lambda: app.auto_recover != before, "the key to be handled")  # noqa: B023
            toggles += 1
            highest = max(highest, me.memory_info().rss)
            await pilot.pause(0.5)
        await wait_for(pilot, lambda: app.run_state == "finished", "the run to finish", timeout=120)
        highest = max(highest, me.memory_info().rss)

        run = run_dir(app)
        events = stored(run)
        assert not [e for e in events if isinstance(e, Garbage)]
        assert isinstance(events[0], RunStart) and isinstance(events[-1], RunEnd)
        on_disk = [e for e in events if isinstance(e, Step)]
        assert len(on_disk) == steps and in_order(on_disk)
        assert events[-1].steps == steps  # type: ignore[union-attr]
        assert app.attempt is not None and app.attempt.steps == steps
        assert "FINISHED" in header(app)

        lines = log_lines(app)
        assert len(lines) <= MAX_LINES
        tail = "\n".join(lines[-4:])
        assert f"{steps}/{steps} loss" in tail and f"run ended: finished after {steps} steps" in tail
        steplog = app.query_one(StepLog)
        assert steplog.scroll_y == steplog.max_scroll_y  # the view is at the newest line

        assert toggles >= 3
        assert highest - baseline < 100 * MIB, f"RSS grew {(highest - baseline) / MIB:.0f} MiB"
        assert leftovers(run) == []


async def test_keys_changing_again_and_again_keep_no_old_footer_keys_alive(
    monkeypatch: pytest.MonkeyPatch, isolated_dirs: Path
) -> None:
    # Every change of state re-enables keys and rebuilds the footer; a long
    # session (an auto-recover ladder, hours of runs) does that without end.
    use_stand_in(monkeypatch, rate=20, steps=100_000)
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "training", "training")
        for _ in range(30):
            await pilot.press("A")  # auto-recover on/off: the footer's keys change
        await pilot.pause(0.5)
        gc.collect()
        alive = [o for o in gc.get_objects() if isinstance(o, FooterKey)]
        shown = list(app.screen.query(FooterKey))
        assert len(alive) <= len(shown) + 20, f"{len(alive)} footer keys alive for {len(shown)} shown"
        run = run_dir(app)
        await pilot.press("s")
        await wait_for(pilot, lambda: app.run_state == "stopped", "the stop")
        assert leftovers(run) == []
