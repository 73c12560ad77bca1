"""A gauge row per worker of a group: the memory panel draws a row per rank
with its memory now and its peak; the header and history words; each worker's
log from `l`. (The sampler reading ranks from real processes:
tests/integration/test_workers_refusals.py.)"""

from __future__ import annotations

from pathlib import Path

from tests.recorded import cpu_snapshot
from tui.telemetry.snapshot import TrainerUsage, WorkerUsage
from tui.ui.widgets.memory import MemoryPanel

GIB = 1 << 30


def _with_workers(rss: tuple[int, int], t: float) -> object:
    snap = cpu_snapshot(t)
    workers = (WorkerUsage(0, 101, rss[0]), WorkerUsage(1, 102, rss[1]))
    trainer = TrainerUsage((100, 101, 102), sum(rss), 150.0, workers)
    return type(snap)(t=snap.t, gpus=snap.gpus, host=snap.host, trainer=trainer, gpu_status=snap.gpu_status,
                      gpu_message=snap.gpu_message)


def test_the_memory_panel_draws_a_row_per_worker_with_its_peak() -> None:
    panel = MemoryPanel()
    panel.feed(_with_workers((2 * GIB, 3 * GIB), 1.0), draw=False)
    panel.feed(_with_workers((GIB, 3 * GIB), 2.0), draw=False)
    lines = panel.lines(100)
    rows = [line for line in lines if line.lstrip().startswith("rank ")]
    assert len(rows) == 2, lines
    assert any("2 workers on localhost" in line and "pids 101, 102" in line for line in lines)
    assert "rank 0 CPU" in rows[0] and "peak 2.0 GiB" in rows[0]
    assert "rank 1" in rows[1] and "peak 3.0 GiB" in rows[1]
    one = cpu_snapshot(3.0)  # one process: no worker rows
    panel.feed(one, draw=False)
    assert not [line for line in panel.lines(100) if line.lstrip().startswith("rank ")]


def test_the_header_and_the_history_name_the_world_size_and_each_workers_batch() -> None:
    from trainer.config import RunConfig
    from tui.kinds.words import header_words, table_words, tag_words

    cfg = RunConfig(backend="jax", workers=2, batch_size=8)
    assert "2 workers × batch 4" in header_words(cfg) and "batch 8" in header_words(cfg)
    assert table_words(cfg).endswith("2w") and tag_words(cfg).endswith("2w")
    assert "workers" not in header_words(RunConfig())


async def test_the_log_screen_goes_through_each_workers_log_with_w(tmp_path: Path) -> None:
    from textual.app import App

    from tui.ui.screens.logview import LogScreen

    (tmp_path / "trainer.log").write_text("rank zero's line\n")
    (tmp_path / "trainer.rank1.log").write_text("rank one's line\n")
    screen = LogScreen(tmp_path / "trainer.log", (tmp_path / "trainer.rank1.log",))
    app = App()
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(screen)
        shown = lambda: "\n".join(screen.query_one("#trainer-log").lines)  # noqa: E731
        title = lambda: str(screen.query_one("#trainer-log").border_title)  # noqa: E731
        for _ in range(100):
            await pilot.pause(0.02)
            if "rank zero's line" in shown():
                break
        assert "rank zero's line" in shown() and "worker rank 0 of 2" in title()
        await pilot.press("w")
        for _ in range(100):
            await pilot.pause(0.02)
            if "rank one's line" in shown():
                break
        assert "rank one's line" in shown() and "worker rank 1 of 2" in title()
    assert LogScreen(tmp_path / "trainer.log").check_action("next_worker", ()) is False  # one process: no `w`
