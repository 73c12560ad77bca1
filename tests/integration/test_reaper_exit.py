"""The reaper outlives stop signals and records how the trainer ended."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from tests.supervision import STAND_IN, script_env
from tests.waiting import WAIT, wait_until
from trainer.config import RunConfig
from tui.runs.store import RunStore


def start_reaper(tmp_path, **cfg):
    store = RunStore(tmp_path / "runs")
    run = store.new_run(RunConfig(**cfg), session="s", attempt=1, reason="test", trainer_module=STAND_IN)
    proc = subprocess.Popen([sys.executable, "-m", "tui.supervision.reaper", str(run.path)], start_new_session=True)
    return run, proc


def test_the_reaper_records_the_pid_and_a_normal_exit(tmp_path, monkeypatch):
    script_env(monkeypatch, steps=3, rate=100)
    run, proc = start_reaper(tmp_path, epochs=1)
    assert proc.wait(WAIT) == 0
    record = json.loads(run.exit_path.read_text())
    assert record["returncode"] == 0 and record["signal"] is None and record["ended"] > 0
    assert run.trainer_pid() and run.trainer_pid() != proc.pid


def test_sigint_to_the_group_stops_the_trainer_and_the_reaper_records_130(tmp_path, monkeypatch):
    script_env(monkeypatch, steps=100_000, rate=40)
    run, proc = start_reaper(tmp_path)
    wait_until(lambda: run.events_path.exists() and run.events_path.stat().st_size > 400, what="steps")
    for signum in (signal.SIGHUP, signal.SIGTERM):  # the reaper shrugs these off
        os.kill(proc.pid, signum)
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(WAIT) == 0
    assert json.loads(run.exit_path.read_text())["returncode"] == 130


def test_a_trainer_killed_by_a_signal_is_recorded_with_the_signal_name(tmp_path, monkeypatch):
    script_env(monkeypatch, steps=3, rate=100, end="sigkill")
    run, proc = start_reaper(tmp_path)
    proc.wait(WAIT)
    record = json.loads(run.exit_path.read_text())
    assert record == {**record, "returncode": -9, "signal": "SIGKILL"}


def test_a_trainer_module_that_does_not_exist_ends_with_its_error_in_the_log(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.new_run(RunConfig(), session="s", attempt=1, reason="test", trainer_module="no_such_trainer_mod")
    subprocess.run([sys.executable, "-m", "tui.supervision.reaper", str(run.path)], check=True, timeout=WAIT)
    assert json.loads(run.exit_path.read_text())["returncode"] == 1
    assert "No module named no_such_trainer_mod" in run.log_path.read_text()


def test_the_reaper_refuses_a_missing_run_folder_in_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "tui.supervision.reaper", str(tmp_path / "nope")],
                         capture_output=True, text=True, timeout=WAIT)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "not a run folder" in out.stderr
