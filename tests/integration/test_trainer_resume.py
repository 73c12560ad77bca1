"""Graceful stop and resume: SIGINT saves, the next launch continues."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.tinydata import make_image_folder, read_events, run_trainer, trainer_command, trainer_env
from trainer.protocol import ExitCode

pytestmark = pytest.mark.tf


def wait_for_steps(run_dir: Path, proc: subprocess.Popen[str], steps: int, limit: float = 300) -> None:
    """Until a step event shows `steps` steps (a bound on a hang, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        _, events = read_events(run_dir)
        if any(e["type"] == "step" and e["global_step"] >= steps for e in events):
            return
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.1)
    raise AssertionError("the trainer never reached the wanted step")


def test_sigint_stops_after_the_step_saves_a_backup_and_the_next_launch_resumes(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data", classes=2, per_class=4)
    run_dir = tmp_path / "run"
    common = ["--data", str(data), "--image-size", "16", "--backup-dir", str(tmp_path / "backups")]
    proc = subprocess.Popen(
        trainer_command(run_dir, *common, "--batch-size", "4", "--epochs", "3", "--steps-per-epoch", "100000"),
        env=trainer_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for_steps(run_dir, proc, 3)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == ExitCode.STOPPED, stderr[-3000:]
    _, events = read_events(run_dir)
    end = events[-1]
    assert end["type"] == "run_end" and end["status"] == "stopped"
    assert end["steps"] >= 3 and end["resume_epoch"] == 0
    backup = Path(end["backup"])
    assert backup.parent == tmp_path / "backups"
    state = json.loads((backup / "state.json").read_text())
    assert (backup / "latest.weights.h5").stat().st_size > 0
    assert state["steps"] == end["steps"] and state["optimizer_iterations"] == end["optimizer_iterations"]

    # A different architecture does not load that backup: it starts fresh.
    large = run_trainer(tmp_path / "large", *common, "--model", "large", "--epochs", "1", "--steps-per-epoch", "1")
    assert large.returncode == ExitCode.FINISHED, large.stderr[-3000:]
    assert large.one("run_start")["resumed_from"] is None
    assert (backup / "state.json").exists()

    # Same architecture, smaller batch, a new attempt folder sharing the backups
    # (as memtui relaunches): resumes with the saved weights and optimizer state.
    again = run_trainer(tmp_path / "run2", *common, "--batch-size", "2", "--epochs", "1", "--steps-per-epoch", "3")
    assert again.returncode == ExitCode.FINISHED, again.stderr[-3000:]
    start = again.one("run_start")
    assert start["resumed_from"]["steps"] == end["steps"]
    assert start["config"]["batch_size"] == 2
    finished = again.one("run_end")
    assert finished["optimizer_iterations"] == state["optimizer_iterations"] + 3
    assert finished["total_steps"] == end["steps"] + 3
    # A finished run leaves no backup behind, so the next launch starts fresh.
    assert not backup.exists()
