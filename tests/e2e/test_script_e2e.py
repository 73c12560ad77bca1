"""End to end: the real `memtui -- python train.py` in a real tmux pane at 80x24,
on a user's own Keras script with real TensorFlow: steps appear, `b` halves the
script's batch, `s` stops it, `q` quits, and nothing is left running."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.tmuxdrive import Tmux, trainer_processes

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.tf]


def test_script_steps_b_halves_its_batch_s_stops_q_quits_and_nothing_is_left(tmux: Tmux, tmp_path: Path) -> None:
    work = tmp_path / "project"
    work.mkdir()
    shutil.copy(ROOT / "tests" / "scripts" / "slow_steps.py", work / "train.py")
    memtui = str(Path(sys.executable).with_name("memtui"))
    env = {"MEMTUI_RUNS_DIR": str(tmp_path / "runs"), "TERM": "xterm-256color", "PYTHONPATH": str(ROOT),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    pane = tmux.start(["sh", "-c", f"cd {work} && exec {memtui} -- python train.py --sleep 0.3 --samples 3200"],
                      env=env)

    screen = tmux.wait_for(pane, lambda s: re.search(r"loss \d", s) is not None, timeout=120, what="a step line")
    assert "$ python train.py --sleep 0.3" in screen and "model slow · batch 32" in screen, screen
    assert "TRAINING" in screen, screen

    tmux.keys(pane, "b")
    screen = tmux.wait_for(pane, lambda s: "attempt 2" in s and "batch 16" in s and re.search(r"loss \d", s)
                           and "TRAINING" in s, timeout=120, what="attempt 2 training with batch 16")
    assert "halve the batch 32 → 16" in screen, screen

    tmux.keys(pane, "s")
    screen = tmux.wait_for(pane, "STOPPED", timeout=60, what="the run stopped")
    assert "stopped by the user" in screen, screen

    tmux.keys(pane, "q")
    deadline = time.monotonic() + 30
    while (trainer_processes(tmp_path) or not tmux.pane_dead(pane)) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert tmux.pane_dead(pane), tmux.screen(pane)
    assert not trainer_processes(tmp_path), "a script process was left running"
    runs = sorted((tmp_path / "runs").iterdir())
    runs = [p for p in runs if (p / "events.jsonl").exists()]
    assert len(runs) == 2
    ends = [(p / "events.jsonl").read_text() for p in runs]
    assert all('"status":"stopped"' in text for text in ends), "both attempts ended by a graceful stop"
    assert '"batch_size":16' in ends[1] and '"batch_size":16' not in ends[0]
