"""Faults seen through the real screen (issue 7): the stand-in trainer, a real
subprocess on the real protocol, run by the real Supervisor under Textual's pilot.

After every fault the screen is still up and answers keys, the verdict says
what happened, every event the trainer recorded is on disk and was shown, and
no process of the run is left holding memory.
"""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.fakegpu import GIB, FakeGpu, fake_gpu, two_gpus
from tests.faultkit import leftovers, run_dir, stored, stored_steps, use_stand_in
from tests.screenkit import header, log_lines, memory, screen_app, verdict
from tests.supervision import in_order
from tests.waiting import wait_for
from trainer.protocol import Garbage, RunStart
from tui.ui.app import MemtuiApp
from tui.ui.screens.help import HelpScreen
from tui.ui.widgets.header import RunHeader
from tui.ui.widgets.memory import MemoryPanel
from tui.ui.widgets.steplog import StepLog
from tui.ui.widgets.words import nbytes, step_line


async def still_answers_keys(app: MemtuiApp, pilot) -> None:  # type: ignore[no-untyped-def]
    """The app is alive and handles keys: ? opens help, escape closes it."""
    assert app.is_running
    await pilot.press("question_mark")
    assert isinstance(app.screen, HelpScreen)
    await pilot.press("escape")
    assert not isinstance(app.screen, HelpScreen)


# --- the trainer dies of a signal ------------------------------------------------


@pytest.mark.parametrize(("end", "signame"), [("segv", "SIGSEGV"), ("abort", "SIGABRT")])
async def test_a_trainer_dying_of_a_signal_is_named_and_leaves_no_process_behind(
    monkeypatch: pytest.MonkeyPatch, isolated_dirs: Path, end: str, signame: str
) -> None:
    # The trainer started a worker holding 32 MiB, as a data loader would; dying
    # of a signal orphans it unless memtui sweeps the run's process group.
    use_stand_in(monkeypatch, rate=100, steps=400, end=end, end_at_step=12, worker=32)
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "killed", "the run to be killed")
        run = run_dir(app)
        assert "✗ KILLED" in header(app)
        assert signame in verdict(app) and "during step 13 of epoch 1" in verdict(app)
        assert json.loads((run / "exit.json").read_text())["signal"] == signame
        assert json.loads((run / "verdict.json").read_text())["kind"] == "killed"

        events = stored(run)
        assert not [e for e in events if isinstance(e, Garbage)]
        assert isinstance(events[0], RunStart)
        steps = stored_steps(run)
        assert [s.step for s in steps] == list(range(1, 13)) and in_order(steps)
        assert app.attempt is not None and app.attempt.steps == 12
        assert step_line(steps[-1]) in log_lines(app)

        worker = int((run / "worker.pid").read_text())
        assert leftovers(run) == []
        assert not psutil.pid_exists(worker) or psutil.Process(worker).status() == psutil.STATUS_ZOMBIE
        await still_answers_keys(app, pilot)


# --- the runs disk fills up ------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB tmpfs: writes past it fail with ENOSPC, like a full disk."""
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_a_full_runs_disk_is_named_and_everything_written_before_is_kept(
    monkeypatch: pytest.MonkeyPatch, small_disk: Path
) -> None:
    # 2,000 steps a second fill 256 KiB in well under a second.
    use_stand_in(monkeypatch, rate=2000, steps=1_000_000)
    app = screen_app(small_disk / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state not in ("idle", "starting", "training"), "the run to end")
        run = run_dir(app)
        assert app.run_state == "crashed"
        assert "✗ CRASHED" in header(app)
        assert "disk holding the run folder is full" in verdict(app)
        assert "--runs-dir" in verdict(app)
        assert any("No space left on device" in line for line in log_lines(app))

        # Every whole line that reached the disk is intact and was shown; only
        # the one cut off by the full disk is missing its end.
        lines = (run / "events.jsonl").read_text().splitlines()
        assert all(not isinstance(e, Garbage) for e in stored(run)[:-1])
        steps = stored_steps(run)
        assert len(steps) > 100 and in_order(steps)
        assert app.attempt is not None and app.attempt.steps == len(steps)
        assert step_line(steps[-1]) in log_lines(app)
        assert len(lines) >= len(steps) + 1
        assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]  # no half-written leftovers

        assert leftovers(run) == []
        await still_answers_keys(app, pilot)


# --- a GPU falls off the bus -------------------------------------------------------


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeGpu:
    """Two fake 24 GiB GPUs seen by this process (only NVML is faked)."""
    return fake_gpu(tmp_path, two_gpus(), monkeypatch)


async def test_a_gpu_lost_mid_run_is_marked_lost_while_the_other_gpu_and_the_run_go_on(
    monkeypatch: pytest.MonkeyPatch, isolated_dirs: Path, machine: FakeGpu
) -> None:
    use_stand_in(monkeypatch, rate=20, steps=100_000)
    app = screen_app(isolated_dirs, interval=0.25)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "training" and "GPU1" in memory(app), "both GPUs shown")
        assert "LOST" not in memory(app)

        machine.update(lost=1)
        await wait_for(pilot, lambda: "GPU1 ✗ LOST" in memory(app), "GPU 1 marked lost")
        assert "fell off the bus" in memory(app)

        # GPU 0 goes on being read: a change in its memory reaches the screen.
        scenario = copy.deepcopy(machine.scenario)
        scenario["gpus"][0]["used"] = 20 * GIB
        machine.write(scenario)
        await wait_for(pilot, lambda: nbytes(20 * GIB) in memory(app), "GPU 0's new figure")
        gpu0 = next(line for line in memory(app).splitlines() if line.startswith("GPU0"))
        assert "83%" in gpu0  # 20 of 24 GiB

        assert app.attempt is not None
        before = app.attempt.steps
        await wait_for(pilot, lambda: app.attempt is not None and app.attempt.steps > before + 5, "more steps")
        assert app.run_state == "training" and "TRAINING" in header(app)

        run = run_dir(app)
        await pilot.press("s")
        await wait_for(pilot, lambda: app.run_state == "stopped", "the stop")
        assert leftovers(run) == []
        await still_answers_keys(app, pilot)


# --- a burst of terminal resizes ---------------------------------------------------

SIZES = [(60, 20), (200, 60), (61, 21), (199, 59), (120, 40), (60, 60), (200, 20), (90, 33)]


async def test_a_burst_of_resizes_leaves_a_whole_screen_at_80_by_24(
    monkeypatch: pytest.MonkeyPatch, isolated_dirs: Path
) -> None:
    use_stand_in(monkeypatch, rate=50, steps=100_000)
    app = screen_app(isolated_dirs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.attempt is not None and app.attempt.steps >= 5, "steps")
        for i in range(2 * len(SIZES)):  # every size twice, each from another
            await pilot.resize_terminal(*SIZES[i % len(SIZES)])
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.3)

        assert app.is_running and tuple(app.size) == (80, 24)
        screen = app.screen
        assert tuple(screen.size) == (80, 24)
        assert not screen.has_class("-wide")  # the narrow layout is back
        head = app.query_one(RunHeader).region
        mem = app.query_one(MemoryPanel).region
        log = app.query_one(StepLog).region
        assert head.y == 0 and head.width == 80
        for region in (head, mem, log):
            assert region.x >= 0 and region.right <= 80 and region.bottom <= 24
        assert mem.y >= head.bottom and log.y >= mem.bottom and log.height >= 3

        # Steps still arrive and the log ends with the newest.
        assert app.attempt is not None
        seen = app.attempt.steps
        await wait_for(pilot, lambda: app.attempt is not None and app.attempt.steps > seen + 5, "steps after")
        run = run_dir(app)
        await pilot.press("s")
        await wait_for(pilot, lambda: app.run_state == "stopped", "the stop")
        steps = stored_steps(run)
        assert app.attempt.steps == len(steps)
        assert step_line(steps[-1]) in log_lines(app)[-3:]
        assert "STOPPED" in header(app)
        assert leftovers(run) == []
