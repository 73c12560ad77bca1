"""Notices from the supervisor's thread reach the event loop in order, many per
wake-up (tui/widgets/messages.py: Handoff), and the screen's once-a-tick frame
carries the gauges (tui/ui/app.py: `_tick`)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path

import pytest

from tests.waiting import wait_for
from tui.ui.widgets.messages import Handoff


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


async def test_the_first_sample_wakes_the_screen_and_the_tick_takes_every_later_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakegpu import GIB, fake_gpu, two_gpus

    from tests.recorded import make_app
    from tests.screenkit import visible_text
    from tui.telemetry.sampler import Sampler

    gpu = fake_gpu(tmp_path, two_gpus(), monkeypatch)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        # Wired as `_start_live` wires it: the real sampler, reading the fake card.
        # Its own interval is long, so only the readings this test asks for come.
        sampler = app.sampler = Sampler(interval=60, on_snapshot=app._sampled_in_thread)
        sampler.start()
        try:
            await wait_for(pilot, lambda: "14.0 GiB/24.0 GiB" in visible_text(app), "the first sample", timeout=10.0)
            assert len(app.main.memory.samples) == 1

            for used in (16, 18, 20):  # three readings between two ticks
                scenario = two_gpus()
                scenario["gpus"][0]["used"] = used * GIB
                gpu.write(scenario)
                sampler.sample_now()
            await wait_for(pilot, lambda: "20.0 GiB/24.0 GiB" in visible_text(app), "a later sample", timeout=10.0)
            # Every reading is kept for the sparkline, in order, none twice.
            assert [s.used for s in app.main.memory.samples] == [u * GIB for u in (14, 16, 18, 20)]
        finally:
            sampler.stop()


async def test_notices_that_come_after_the_screens_are_gone_are_dropped() -> None:
    from tests.recorded import info, make_app
    from tui.supervision.attempt import AttemptStarted

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
    # Shut down: the supervisor's thread may still hand over what it had.
    app._take_notices([AttemptStarted(info(1, "training"))])  # nothing to show it on, and nothing raises
    assert app.attempt is None
    assert app.return_code in (None, 0), "a notice after shutdown was treated as a crash"
