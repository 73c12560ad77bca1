"""memtui itself receiving SIGTERM or SIGHUP while a run is live (issue 7).

The real `memtui` runs in a real tmux pane with the stand-in trainer. On the
signal it leaves cleanly: the terminal restored (no alternate screen, no mouse
reporting), one line saying the run goes on, exit 128+signal, no traceback.
The run, in its own session, keeps training; `memtui attach` shows its whole
history and stopping it from there leaves no process behind.
"""

from __future__ import annotations

import re
import shlex
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.faultkit import MEMTUI, holders_of, kill_all, stand_in_env, stored_steps
from tests.supervision import in_order
from tests.tmuxdrive import Tmux
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(tmp_path, width=80, height=24)
    yield t
    t.kill()
    kill_all(tmp_path / "runs")


def pane_flags(tmux: Tmux, pane: str) -> dict[str, str]:
    out = tmux._tmux("display-message", "-p", "-t", pane, "#{alternate_on} #{mouse_any_flag}").split()
    return {"alternate": out[0], "mouse": out[1]}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_memtui_signalled_exits_cleanly_and_the_run_goes_on_for_attach(
    tmux: Tmux, tmp_path: Path, signum: signal.Signals
) -> None:
    env = stand_in_env(tmp_path, rate=20, steps=100_000)
    status = tmp_path / "status"
    # A shell around memtui records its exit code, then the pane stays open so
    # the terminal's modes and memtui's last words can be read after it is gone.
    script = f'"$0"; echo $? > {shlex.quote(str(status))}; exec sleep 600'
    pane = tmux.start(["sh", "-c", script, MEMTUI], env=env)
    tmux.wait_for(pane, lambda s: re.search(r"e1 +\d+/100000 loss", s) is not None, timeout=60, what="steps")
    assert pane_flags(tmux, pane) == {"alternate": "1", "mouse": "1"}

    shell = psutil.Process(tmux.pane_pid(pane))
    memtui = next(p for p in shell.children() if MEMTUI in " ".join(p.cmdline()))
    runs = [p for p in (tmp_path / "runs").iterdir() if (p / "events.jsonl").exists()]
    assert len(runs) == 1
    run = runs[0]

    memtui.send_signal(signum)
    wait_until(status.exists, what="memtui to exit")
    assert int(status.read_text()) == 128 + signum
    said = tmux.screen(pane)
    assert "Traceback" not in said
    assert f"memtui: {signum.name}; run {run.name} goes on (memtui attach)" in said, said
    assert pane_flags(tmux, pane) == {"alternate": "0", "mouse": "0"}  # the terminal is given back

    attach_takes_over(tmux, run, env)


def attach_takes_over(tmux: Tmux, run: Path, env: dict[str, str]) -> None:
    """The run trains on without memtui; `memtui attach` shows it, controls it and stops it."""
    # The run did not notice: it goes on training without memtui.
    before = len(stored_steps(run))
    wait_until(lambda: len(stored_steps(run)) > before + 10, what="steps after memtui left")
    assert holders_of(run)

    viewer = tmux.start([MEMTUI, "attach"], env=env, name="attach")
    screen = tmux.wait_for(viewer, lambda s: "TRAINING" in s and run.name in s, timeout=60, what="the attached run")
    shown_after = len(stored_steps(run))
    screen = tmux.wait_for(viewer, lambda s: _last_step_on(s) > shown_after, timeout=30, what="newer steps")
    assert "read-only" not in screen  # control passed to the new screen

    tmux.keys(viewer, "q")
    tmux.wait_for(viewer, lambda s: "leave" in s.lower(), timeout=20, what="the quit dialog")
    tmux.keys(viewer, "s")
    wait_until(lambda: not holders_of(run), timeout=30, what="every process of the run to end")
    steps = stored_steps(run)
    assert in_order(steps) and steps[0].step == 1
    assert '"status":"stopped"' in (run / "events.jsonl").read_text()
    deadline = time.monotonic() + 20
    while not tmux.pane_dead(viewer) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert tmux.pane_dead(viewer)


def _last_step_on(screen: str) -> int:
    found = re.findall(r"e1 +(\d+)/100000 loss", screen)
    return max((int(n) for n in found), default=0)


def test_a_real_hangup_closing_memtuis_terminal_leaves_the_run_going(tmux: Tmux, tmp_path: Path) -> None:
    env = stand_in_env(tmp_path, rate=20, steps=100_000)
    pane = tmux.start([MEMTUI], env=env)
    tmux.start(["sleep", "600"], name="keep")  # the tmux server outlives the closed window
    tmux.wait_for(pane, lambda s: re.search(r"e1 +\d+/100000 loss", s) is not None, timeout=60, what="steps")
    memtui = psutil.Process(tmux.pane_pid(pane))
    run = next(p for p in (tmp_path / "runs").iterdir() if (p / "events.jsonl").exists())

    tmux._tmux("kill-window", "-t", pane)  # the terminal goes away: the kernel sends SIGHUP
    memtui.wait(30)  # memtui is gone, not hanging on a dead terminal holding the run's lock
    attach_takes_over(tmux, run, env)
