"""Shared fixtures: every test gets its own runs and cache folders, so nothing
touches ~/.local/state or another test's runs.

Shared helpers live once, each imported as `tests.<module>`:
- waiting.py: WAIT and the waits, sync (`wait_until`) and under the pilot (`wait_for`);
- screenkit.py: the live screen (`screen_app`) and what it shows (header, verdict, log...);
- supervision.py: runs through the supervisor (`Collector`, `script_env`, `in_order`);
- faultkit.py: the real `memtui` and its processes and run folder;
- tmuxdrive.py, sshserver.py: a real terminal, a real ssh server.
The fakes: stand_in_trainer.py (the trainer), fakegpu.py with fake_pynvml/ (the
GPU), recorded.py (recorded runs fed to the screen), treeproc.py (a process
tree), tinydata.py (image folders), paint_probe.py (memtui reporting its painter).

Markers (pyproject.toml): tf, jax, e2e; all run by default, in the order
collected. (Slow tests first was tried: 927 s against 860 s, since quick tests
that wait then met each other at the end and left the CPUs idle.)"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

# Some tests import helpers by their bare names (`from scripthook_run import ...`,
# `from tinydata import ...`); the helpers live here, above unit/, integration/
# and e2e/, so this folder goes on the path once for all of them.
TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from tests.tmuxdrive import Tmux  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    runs = tmp_path / "runs"
    monkeypatch.setenv("MEMTUI_RUNS_DIR", str(runs))
    monkeypatch.setenv("MEMTUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return runs


@pytest.fixture(autouse=True)
def no_stray_processes(tmp_path: Path) -> Iterator[None]:
    """After each test, end any process still working in its folders.

    Tests that promise "no process left behind" assert it themselves; this net
    catches the ones a failing test never got to stop, so one failure does not
    leave trainers running for the rest of the suite. What it ends is reported.
    """
    yield
    mine = str(tmp_path)
    strays: list[str] = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmd = proc.info["cmdline"] or []
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue  # already ended, waiting for its parent to read its status
        if proc.pid != os.getpid() and any(mine in part for part in cmd):
            strays.append(" ".join(cmd)[:160])
            with contextlib.suppress(psutil.Error):
                proc.kill()
    if strays:
        warnings.warn(f"ended {len(strays)} process(es) a test left running: {'; '.join(strays)}", stacklevel=1)


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Launches in this test run the stand-in trainer; `script(**keys)` says what it does
    (see tests/stand_in_trainer.py)."""
    monkeypatch.setenv("MEMTUI_TRAINER_MODULE", "tests.stand_in_trainer")

    def use(**keys: Any) -> None:
        monkeypatch.setenv("STAND_IN_SCRIPT", json.dumps(keys))

    return use


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    """A private tmux server at 80x24 (a test file may override it with another size)."""
    t = Tmux(tmp_path, width=80, height=24)
    yield t
    t.kill()
