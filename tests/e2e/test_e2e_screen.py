"""End to end: the real `memtui` in a real tmux pane, training the real trainer.

What a user does first: start memtui on their images, watch steps arrive,
press `b` after deciding the batch is too big, quit and stop the run. Nothing
may be left running afterwards.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

from tests.tinydata import make_image_folder
from tests.tmuxdrive import Tmux, trainer_processes

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.tf]




def _env(tmp_path: Path) -> dict[str, str]:
    return {"MEMTUI_RUNS_DIR": str(tmp_path / "runs"), "MEMTUI_CACHE_DIR": str(tmp_path / "cache"),
            "TERM": "xterm-256color", "PYTHONPATH": str(ROOT)}


def test_steps_appear_b_halves_the_batch_and_quit_stop_leaves_nothing(tmux: Tmux, tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data", classes=3, per_class=24, size=16)
    memtui = str(Path(sys.executable).with_name("memtui"))
    pane = tmux.start([memtui, "--data", str(data), "--image-size", "16", "--batch-size", "8",
                       "--epochs", "5000", "--steps-per-epoch", "8"], env=_env(tmp_path))

    tmux.wait_for(pane, lambda s: re.search(r"loss \d", s) is not None, timeout=120, what="a step line")
    screen = tmux.screen(pane)
    assert "batch 8" in screen and "TRAINING" in screen, screen

    tmux.keys(pane, "b")
    screen = tmux.wait_for(pane, lambda s: "batch 4" in s and "attempt 2" in s, timeout=60,
                           what="attempt 2 with batch 4")
    assert "halve the batch 8 → 4" in screen, screen
    tmux.wait_for(pane, lambda s: "TRAINING" in s and "attempt 2" in s, timeout=120, what="attempt 2 training")
    runs = [p for p in (tmp_path / "runs").iterdir() if (p / "config.json").exists()]
    assert len(runs) == 2
    assert sorted('"batch_size": 4' in (p / "config.json").read_text() for p in runs) == [False, True]

    tmux.keys(pane, "q")
    tmux.wait_for(pane, lambda s: "Leave it running" in s or "leave" in s.lower(), timeout=20, what="the quit dialog")
    tmux.keys(pane, "s")
    deadline = time.monotonic() + 60
    while (trainer_processes(tmp_path) or not tmux.pane_dead(pane)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert tmux.pane_dead(pane), tmux.screen(pane)
    assert not trainer_processes(tmp_path), "a trainer process was left running"
    stopped = [p for p in runs if '"status":"stopped"' in (p / "events.jsonl").read_text()]
    assert stopped, "the live attempt did not end with run_end stopped"
