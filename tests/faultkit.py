"""Helpers for the fault, load and security tests: the real `memtui` (tmux)
driving the stand-in trainer through the real Supervisor, and what a test reads
back from the run folder and the processes. The screen under Textual's pilot is
tests/screenkit.py; waits are tests/waiting.py."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.supervision import REPO, STAND_IN, group_alive
from trainer.protocol import Event, Garbage, Step, decode
from tui.ui.app import MemtuiApp

MEMTUI = str(Path(sys.executable).with_name("memtui"))


def use_stand_in(monkeypatch: pytest.MonkeyPatch, **script: Any) -> None:
    """Runs launched from now on use the stand-in trainer following `script`."""
    monkeypatch.setenv("MEMTUI_TRAINER_MODULE", STAND_IN)
    monkeypatch.setenv("STAND_IN_SCRIPT", json.dumps(script))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


def stand_in_env(tmp_path: Path, **script: Any) -> dict[str, str]:
    """The environment for a real `memtui` process running the stand-in."""
    return {"MEMTUI_RUNS_DIR": str(tmp_path / "runs"), "MEMTUI_CACHE_DIR": str(tmp_path / "cache"),
            "TERM": "xterm-256color", "PYTHONPATH": str(REPO), "MEMTUI_TRAINER_MODULE": STAND_IN,
            "STAND_IN_SCRIPT": json.dumps(script)}


def run_dir(app: MemtuiApp) -> Path:
    assert app.attempt is not None
    return Path(app.attempt.run_dir)


def stored(run: Path) -> list[Event | Garbage]:
    """Every line of RUN/events.jsonl, decoded."""
    return [decode(line) for line in (run / "events.jsonl").read_text(encoding="utf-8").splitlines()]


def stored_steps(run: Path) -> list[Step]:
    return [e for e in stored(run) if isinstance(e, Step)]


def run_pgid(run: Path) -> int:
    return int(json.loads((run / "meta.json").read_text())["pgid"])


def leftovers(run: Path, timeout: float = 5.0) -> list[int]:
    """Processes of the run still alive after `timeout` (zombies do not count)."""
    pgid = run_pgid(run)
    deadline = time.monotonic() + timeout
    while (alive := group_alive(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def holders_of(path: Path) -> list[psutil.Process]:
    """Live processes whose command line mentions `path` (reapers, trainers, workers)."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        if p.info["status"] != psutil.STATUS_ZOMBIE and any(str(path) in c for c in p.info["cmdline"] or []):
            found.append(p)
    return found


def kill_all(path: Path) -> None:
    """Test clean-up: SIGKILL whatever still runs under `path`, and wait until it is gone
    (a kill is delivered asynchronously)."""
    procs = holders_of(path)
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=5)
