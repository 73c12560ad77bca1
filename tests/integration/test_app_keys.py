"""Every key and every state of the screen, driven by the stand-in trainer (a
real subprocess on the real protocol) through the real Supervisor."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.screenkit import QUICK, header, log_text, screen_app, verdict
from tests.waiting import wait_for
from trainer.config import RunConfig
from tui.common.verdict import STOPPED
from tui.runs.store import RunStore
from tui.ui.screens.help import HelpScreen
from tui.ui.screens.logview import LogScreen
from tui.ui.screens.quit import QuitScreen
from tui.ui.widgets.history import HistoryTable
from tui.ui.widgets.verdict import VerdictPanel

SLOW = {"rate": 4, "steps": 400}


async def test_a_run_trains_then_finishes_and_the_screen_says_so(script: Any, isolated_dirs: Path) -> None:
    script(rate=100)
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "finished", "the run to finish")
        assert "✓ FINISHED" in header(app)
        assert "model small · batch 32" in header(app)
        assert "e1   10/10 loss" in log_text(app)
        assert app.query_one(HistoryTable).get_row("1")[2] == "✓ finished"
        assert app.check_action("stop", ()) is None  # nothing to stop
        assert app.check_action("relaunch", ()) is True


async def test_out_of_memory_shows_the_panel_and_b_relaunches_with_half_the_batch(
    script: Any, isolated_dirs: Path
) -> None:
    script(rate=100, oom_above_batch=16, stderr=["2024 W tensorflow noise"])
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "oom", "the OOM")
        assert "✗ OUT OF MEMORY" in header(app)
        assert "✗ OUT OF MEMORY" in verdict(app)
        assert app.query_one(VerdictPanel).display
        await pilot.press("b")
        await wait_for(pilot, lambda: app.attempt is not None and app.attempt.number == 2, "attempt 2")
        await wait_for(pilot, lambda: app.run_state == "finished", "attempt 2 to finish")
        assert app.attempt is not None and app.attempt.config is not None
        assert app.attempt.config.batch_size == 16
        assert "batch 16" in header(app)
        table = app.query_one(HistoryTable)
        assert table.get_row("1")[2] == "✗ out of memory"
        assert table.get_row("2")[2] == "✓ finished"


@pytest.mark.parametrize(
    ("key", "expect"),
    [
        ("r", lambda c: c.replace(backup_dir=None) == QUICK),
        ("g", lambda c: c.memory_growth),
        ("c", lambda c: c.model == "large"),
        ("m", lambda c: c.mixed_precision),
        ("a", lambda c: c.grad_accum == 2 and c.effective_batch == 64),
    ],
)
async def test_relaunch_keys_stop_the_live_run_and_start_the_changed_one(
    script: Any, isolated_dirs: Path, key: str, expect: Callable[[RunConfig], bool]
) -> None:
    script(**SLOW)
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "training", "training")
        await pilot.press(key)
        await wait_for(pilot, lambda: app.attempt is not None and app.attempt.number == 2, "attempt 2")
        assert app.attempt is not None and expect(app.attempt.config)
        assert app.query_one(HistoryTable).get_row("1")[2] == "■ stopped"
        await pilot.press("s")
        await wait_for(pilot, lambda: app.run_state == "stopped", "the stop")


async def test_s_stops_gracefully_and_a_second_s_forces(script: Any, isolated_dirs: Path) -> None:
    script(ignore_sigint=True, **SLOW)
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "training", "training")
        await pilot.press("s")
        await wait_for(pilot, lambda: app.run_state == "stopping", "stopping")
        assert "■ STOPPING" in header(app)
        await pilot.press("s")
        await wait_for(pilot, lambda: app.run_state not in ("training", "stopping"), "the forced end")
        assert app.run_state in ("killed", "stopped")
        assert "✗ KILLED" in header(app) or "■ STOPPED" in header(app)


async def test_a_stop_that_ends_in_sigterm_is_stopped_in_the_header_and_the_verdict_alike(
    script: Any, isolated_dirs: Path
) -> None:
    # SIGINT is swallowed, so the second s sends SIGTERM, and the process dies of it (exit -15).
    script(sigterm_kills=True, **SLOW)
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "training", "training")
        await pilot.press("s")
        await wait_for(pilot, lambda: app.run_state == "stopping", "stopping")
        await pilot.press("s")
        await wait_for(pilot, lambda: app.run_state not in ("training", "stopping"), "the end")
        assert app.attempt is not None and app.attempt.exit_code == -15
        assert app.run_state == "stopped" and "■ STOPPED" in header(app)
        assert app.attempt.verdict is not None and app.attempt.verdict.kind == STOPPED
        assert "stopped by the user" in verdict(app) and "killed" not in verdict(app).lower()
        stored = json.loads((Path(app.attempt.run_dir) / "verdict.json").read_text())
        assert stored["kind"] == STOPPED


@pytest.mark.parametrize(
    ("end", "state", "words"),
    [("crash", "crashed", "✗ CRASHED"), ("sigkill", "killed", "✗ KILLED")],
)
async def test_crash_and_kill_are_told_apart(
    script: Any, isolated_dirs: Path, end: str, state: str, words: str
) -> None:
    script(rate=100, end=end, end_at_step=3)
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == state, state)
        assert words in header(app)
        assert words in verdict(app)
        if end == "crash":
            assert "ZeroDivisionError" in verdict(app) + log_text(app)


async def test_auto_recover_relaunches_on_its_own_and_A_toggles_it(script: Any, isolated_dirs: Path) -> None:
    script(rate=100, oom_above_batch=16)
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(80, 24)) as pilot:
        assert "auto-recover off" in header(app)
        await pilot.press("A")
        assert app.auto_recover and "auto-recover on" in header(app)
        await pilot.pause()  # the toast comes a frame after the header
        assert "auto-recover on" in [n.message for n in app._notifications]
        await wait_for(pilot, lambda: app.attempt is not None and app.attempt.number >= 2, "the automatic relaunch")
        await wait_for(pilot, lambda: app.run_state == "finished", "the recovered run")
        assert app.attempt is not None and app.attempt.config is not None
        assert app.attempt.config.replace(backup_dir=None) != QUICK


async def test_A_after_an_out_of_memory_ending_recovers_that_one(script: Any, isolated_dirs: Path) -> None:
    script(rate=100, oom_above_batch=16)
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "oom", "the OOM, with recovery off")
        assert app.attempt is not None and app.attempt.number == 1
        await pilot.press("A")
        await wait_for(pilot, lambda: app.run_state == "finished", "the recovered run")
        assert app.attempt is not None and app.attempt.number >= 2
        assert app.attempt.config is not None and app.attempt.config.batch_size == 16
        assert "note: auto-recover: relaunching" in log_text(app)


async def test_l_shows_the_trainers_log_and_escape_closes_it(script: Any, isolated_dirs: Path) -> None:
    script(rate=100, stderr=["I tensorflow: a line only the log has"])
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "finished", "the end")
        await pilot.press("l")
        assert isinstance(app.screen, LogScreen)
        shown = lambda: "\n".join(app.screen.query_one("#trainer-log").lines)  # noqa: E731
        await wait_for(pilot, lambda: "a line only the log has" in shown(), "the log text")
        await pilot.press("escape")
        assert not isinstance(app.screen, LogScreen)


async def test_help_theme_and_palette_keys(script: Any, isolated_dirs: Path) -> None:
    script(rate=100)
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "finished", "the end")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        before = app.theme
        await pilot.press("t")
        assert app.theme != before and app.theme.startswith("memtui-")
        names = [c.title for c in app.get_system_commands(app.screen)]
        assert "rerun (r)" in names and "½batch (b)" in names
        assert "stop (s)" not in names  # nothing to stop: not offered


async def test_q_while_running_asks_and_stop_leaves_no_trainer_behind(script: Any, isolated_dirs: Path) -> None:
    script(**SLOW)
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "training", "training")
        assert app.attempt is not None
        pid_file = Path(app.attempt.run_dir) / "trainer.pid"
        await wait_for(pilot, pid_file.exists, "the trainer pid")
        pid = int(pid_file.read_text())
        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("escape")  # cancel: still here, still training
        assert not isinstance(app.screen, QuitScreen) and app.run_state == "training"
        await pilot.press("q", "s")
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


async def test_q_then_l_leaves_the_run_going(script: Any, isolated_dirs: Path) -> None:
    script(**SLOW)
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "training", "training")
        assert app.attempt is not None
        run_dir = Path(app.attempt.run_dir)
        await wait_for(pilot, (run_dir / "trainer.pid").exists, "the trainer pid")
        pid = int((run_dir / "trainer.pid").read_text())
        await pilot.press("q", "l")
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    try:
        assert psutil.Process(pid).is_running()
    finally:
        os.killpg(os.getpgid(pid), signal.SIGKILL)  # the run we started and left


async def test_keys_that_mean_nothing_now_are_disabled(script: Any, isolated_dirs: Path) -> None:
    script(**SLOW)
    app = screen_app(isolated_dirs, RunConfig(epochs=1, image_size=32, batch_size=1, model="small"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "training", "training")
        assert app.check_action("stop", ()) is True
        assert app.check_action("remedy", ("halve-batch",)) is None  # batch 1 cannot be halved
        assert app.check_action("find_batch", ()) is None  # the search needs the GPU to itself
        await pilot.press("s")
        await wait_for(pilot, lambda: app.run_state == "stopped", "the stop")
        assert app.check_action("stop", ()) is None

async def test_every_launch_logs_its_estimate_and_stores_it(script: Any, isolated_dirs: Path) -> None:
    script(rate=100)
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "finished", "the run to finish")
        assert "── estimate: peak ≈ " in log_text(app)
        assert "▲ Predicted peak" not in log_text(app)
    (summary,) = RunStore(isolated_dirs).list_runs()
    assert summary.estimate is not None and summary.estimate > 0


async def test_a_launch_predicted_not_to_fit_is_warned_about_before_it_runs(script: Any, isolated_dirs: Path) -> None:
    script(rate=100)
    # 4096 images of 256 px need far more than the trainer's 1 GiB limit.
    app = screen_app(isolated_dirs, QUICK.replace(batch_size=4096, image_size=256, host_memory_limit=1024))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "▲ Predicted peak" in log_text(app) and "── attempt 1" in log_text(app),
                       "the pre-flight warning and the attempt")
        text = log_text(app)
        assert "will not fit" in text and "the largest batch predicted to fit is" in text
        assert text.index("── estimate") < text.index("── attempt 1")
        await wait_for(pilot, lambda: app.run_state == "finished", "the run to finish")
