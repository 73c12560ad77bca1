"""A real client: memtui over a real OpenSSH connection inside tmux.

The user's story: ssh into the GPU box, start memtui, press keys, lose the
connection mid-run (the ssh client is killed), reconnect, attach. The run must
have gone on, and the attached screen must show its whole history.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sshserver import SshServer, find_sshd
from tests.tinydata import make_image_folder
from tests.tmuxdrive import Tmux, trainer_processes

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.tf,
    pytest.mark.skipif(find_sshd() is None, reason="needs openssh-server (.ci/run installs it)"),
]


@pytest.fixture
def ssh(tmp_path: Path) -> Iterator[SshServer]:
    server = SshServer(tmp_path / "ssh")
    yield server
    server.close()


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(tmp_path, width=100, height=30)
    yield t
    t.kill()


def _remote(tmp_path: Path, *argv: str) -> str:
    """The command the ssh session runs: memtui from this checkout, isolated state."""
    (tmp_path / "ssh").mkdir(exist_ok=True)
    env = {
        "MEMTUI_RUNS_DIR": str(tmp_path / "runs"),
        "MEMTUI_CACHE_DIR": str(tmp_path / "cache"),
        "TERM": "xterm-256color",
        "PYTHONPATH": str(ROOT),
    }
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    memtui = shlex.quote(str(Path(sys.executable).with_name("memtui")))
    return f"cd {shlex.quote(str(ROOT))} && env {exports} {memtui} " + " ".join(shlex.quote(a) for a in argv)




def _step_lines(screen: str) -> list[str]:
    return [line for line in screen.splitlines() if re.search(r"\bloss\b|\d+/\d+ .*loss", line)]


def test_run_survives_a_dropped_ssh_connection_and_attach_shows_everything(
    ssh: SshServer, tmux: Tmux, tmp_path: Path
) -> None:
    data = make_image_folder(tmp_path / "data", classes=3, per_class=24, size=16)
    argv = ["--data", str(data), "--image-size", "16", "--batch-size", "4", "--epochs", "5000",
            "--steps-per-epoch", "6"]
    first = tmux.start(ssh.client_argv(_remote(tmp_path, *argv)), name="first")
    tmux.wait_for(first, lambda s: "loss" in s, timeout=120, what="step lines")
    tmux.keys(first, "?")
    tmux.wait_for(first, lambda s: "relaunch" in s.lower(), timeout=20, what="the help screen")
    tmux.keys(first, "Escape")

    # Drop the connection the hard way: the ssh client dies, sshd hangs up on memtui.
    client = tmux.pane_pid(first)
    os.kill(client, signal.SIGKILL)
    time.sleep(3)
    trainers = trainer_processes(tmp_path)
    assert trainers, "the trainer died with the ssh connection"
    run_dirs = [p for p in (tmp_path / "runs").iterdir() if (p / "events.jsonl").exists()]
    assert len(run_dirs) == 1
    steps_before = (run_dirs[0] / "events.jsonl").read_text().count('"type":"step"')
    assert steps_before > 0

    second = tmux.start(ssh.client_argv(_remote(tmp_path, "attach")), name="second")
    screen = tmux.wait_for(second, lambda s: "loss" in s, timeout=60, what="replayed steps")
    time.sleep(4)  # training went on while nobody watched, and goes on now
    steps_after = (run_dirs[0] / "events.jsonl").read_text().count('"type":"step"')
    assert steps_after > steps_before
    screen = tmux.screen(second)
    assert _step_lines(screen), screen

    tmux.keys(second, "s")
    tmux.wait_for(second, lambda s: "stopped" in s.lower(), timeout=60, what="the stopped state")
    deadline = time.monotonic() + 20
    while trainer_processes(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not trainer_processes(tmp_path), "a trainer was left running"
    tmux.keys(second, "q")
