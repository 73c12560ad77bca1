"""The warm spare on the screen: its RAM is shown as memtui's, beside the run's,
and goes when the spare is let go (a stop by hand)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.screenkit import memory, screen_app
from tests.waiting import wait_for


async def test_the_memory_panel_shows_the_spare_as_memtuis_and_drops_it_after_a_stop(
    script: Any, isolated_dirs: Path
) -> None:
    script(rate=10, steps=10_000)
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "training", "training")
        await wait_for(pilot, lambda: "memtui's warm spare" in memory(app), "the spare in the memory panel")
        panel = memory(app)
        assert "trainer RSS" in panel, "the run's own memory is still its own line"
        assert panel.index("trainer RSS") < panel.index("memtui's warm spare")
        await pilot.press("s")
        await wait_for(pilot, lambda: app.run_state == "stopped", "the stop")
        await wait_for(pilot, lambda: "warm spare" not in memory(app), "the spare to be let go")
