"""Notices from the supervisor's thread reach the event loop in order, many per
wake-up (tui/widgets/messages.py: Handoff), and the screen's once-a-tick frame
carries the gauges (tui/app.py: `_tick`)."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from tui.widgets.messages import Handoff


async def test_items_from_a_thread_arrive_in_order_and_together() -> None:
    loop = asyncio.get_running_loop()
    got: list[list[int]] = []
    handoff: Handoff[int] = Handoff(loop, got.append, contextlib.nullcontext)

    def produce() -> None:
        for i in range(500):
            handoff.put(i)

    thread = threading.Thread(target=produce)
    thread.start()
    thread.join()  # all 500 are put before the loop runs again: they wait together
    for _ in range(10):
        await asyncio.sleep(0)
    assert [i for batch in got for i in batch] == list(range(500))
    assert len(got) == 1, f"one wake-up for items put while the loop was busy, not {len(got)}"

    handoff.put(500)  # the next one wakes the loop again
    for _ in range(10):
        await asyncio.sleep(0)
    assert got[-1] == [500]


async def test_the_handler_runs_inside_the_given_context() -> None:
    entered: list[str] = []

    @contextlib.contextmanager
    def context() -> object:
        entered.append("in")
        yield
        entered.append("out")

    seen: list[tuple[list[str], list[str]]] = []
    handoff: Handoff[str] = Handoff(asyncio.get_running_loop(), lambda items: seen.append((list(entered), items)),
                                    context)
    await asyncio.to_thread(handoff.put, "a")
    for _ in range(10):
        await asyncio.sleep(0)
    assert seen == [(["in"], ["a"])] and entered == ["in", "out"]


def test_items_put_after_the_loop_closed_are_dropped_quietly() -> None:
    loop = asyncio.new_event_loop()
    got: list[list[int]] = []
    handoff: Handoff[int] = Handoff(loop, got.append, contextlib.nullcontext)
    loop.close()
    handoff.put(1)  # the app is gone: nobody is left to show it, and nothing raises
    handoff.put(2)
    assert got == [] and handoff._items == []  # nor kept: a closed app holds nothing more


async def test_gauges_show_the_first_sample_at_once_and_later_ones_by_the_next_tick() -> None:
    from tests.test_app_recorded import GIB, gpu_snapshot, make_app
    from tests.test_app_steplog import visible_text
    from tui.widgets.messages import SnapshotArrived

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.post_message(SnapshotArrived(gpu_snapshot(6 * GIB, 4 * GIB)))
        await pilot.pause()
        assert "6.0 GiB/24.0 GiB" in visible_text(app)  # the waiting line goes at once

        app.post_message(SnapshotArrived(gpu_snapshot(12 * GIB, 10 * GIB)))
        await pilot.pause(1.3)  # drawn with the rest of the tick's frame
        assert "12.0 GiB/24.0 GiB" in visible_text(app)
        assert len(app.main.memory.samples) == 2  # each sample kept for the sparkline


async def test_notices_that_come_after_the_screens_are_gone_are_dropped() -> None:
    from tests.test_app_recorded import info, make_app
    from tui.attempt import AttemptStarted

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
    # Shut down: the supervisor's thread may still hand over what it had.
    app._take_notices([AttemptStarted(info(1, "training"))])  # nothing to show it on, and nothing raises
    assert app.attempt is None
    assert app.return_code in (None, 0), "a notice after shutdown was treated as a crash"
