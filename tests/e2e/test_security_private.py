"""Security (issue 7): runs are private to their user, and memtui listens on nothing.

The real `memtui` runs with the stand-in trainer under the most permissive
umask (000), so any folder created without an explicit mode would show it.
Another user (`nobody`) then tries to read the runs. While the real screen and
headless mode are training, every socket of memtui's process tree (memtui, the
reaper, the trainer) is checked: none listens for connections.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.faultkit import MEMTUI, holders_of, kill_all, stand_in_env
from tests.tmuxdrive import Tmux
from tests.waiting import wait_until


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def headless(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """The real `memtui run --headless` under umask 000; only `env` says where runs go."""
    base = {k: v for k, v in os.environ.items() if k not in ("MEMTUI_RUNS_DIR", "XDG_STATE_HOME")}
    return subprocess.run([MEMTUI, "run", "--headless", "--epochs", "1", "--steps-per-epoch", "3", *argv],
                          env={**base, **env}, capture_output=True, text=True, timeout=120, check=False, umask=0)


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A folder anyone may enter (pytest's own tmp is 0700, which would hide the runs anyway)."""
    parent = Path(tempfile.mkdtemp(prefix="memtui-private-"))
    parent.chmod(0o755)
    yield parent
    kill_all(parent)
    subprocess.run(["rm", "-rf", str(parent)], check=False)


@pytest.mark.parametrize("where", ["--runs-dir", "MEMTUI_RUNS_DIR", "XDG default"])
def test_every_folder_memtui_creates_for_runs_is_0700_whatever_the_umask(open_parent: Path, where: str) -> None:
    env = stand_in_env(open_parent, rate=200)
    env["HOME"] = str(open_parent / "home")
    env.pop("MEMTUI_RUNS_DIR")
    args: list[str] = []
    if where == "--runs-dir":
        root = open_parent / "deep" / "runs"
        args = ["--runs-dir", str(root)]
    elif where == "MEMTUI_RUNS_DIR":
        root = open_parent / "deep" / "runs"
        env["MEMTUI_RUNS_DIR"] = str(root)
    else:
        root = open_parent / "home" / ".local" / "state" / "memtui" / "runs"
    done = headless(env, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = [p for p in root.iterdir() if p.name not in ("backups", ".spares")]
    assert len(runs) == 1
    if (root / ".spares").exists():  # the warm spare's private folder
        assert mode(root / ".spares") == 0o700
    sessions = list((root / "backups").iterdir())
    assert mode(root) == 0o700
    assert mode(runs[0]) == 0o700
    assert mode(root / "backups") == 0o700 and [mode(s) for s in sessions] == [0o700]
    made = [p for p in root.parents if p.is_relative_to(open_parent) and p != open_parent]
    assert made and all(mode(p) == 0o700 for p in made)  # the folders created on the way too


def test_another_user_cannot_list_or_read_the_runs(open_parent: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    root = open_parent / "runs"
    env = stand_in_env(open_parent, rate=200)
    env["MEMTUI_RUNS_DIR"] = str(root)
    assert headless(env).returncode == 0
    run = next(p for p in root.iterdir() if p.name != "backups")

    def as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), user="nobody", group="nogroup", capture_output=True, text=True,
                              check=False, cwd="/")

    assert as_nobody("ls", str(open_parent)).returncode == 0  # the way there is open...
    for argv in (["ls", str(root)], ["cat", str(run / "events.jsonl")], ["cat", str(run / "config.json")],
                 ["ls", str(root / "backups")]):
        denied = as_nobody(*argv)
        assert denied.returncode != 0 and "Permission denied" in denied.stderr, argv  # ...the runs are not


# --- no listening sockets ----------------------------------------------------------


def tree(pid: int) -> list[psutil.Process]:
    top = psutil.Process(pid)
    return [top, *top.children(recursive=True)]


def listening(procs: list[psutil.Process]) -> list[str]:
    """Sockets that accept connections or datagrams: TCP LISTEN, bound UDP, listening unix sockets."""
    unix_listen = _unix_listening_inodes()
    found = []
    for proc in procs:
        try:
            for conn in proc.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN or (conn.type == 2 and not conn.raddr):
                    found.append(f"{proc.pid} {proc.name()}: {conn}")
            for fd in Path(f"/proc/{proc.pid}/fd").iterdir():
                target = os.readlink(fd) if fd.is_symlink() else ""
                if (m := re.fullmatch(r"socket:\[(\d+)\]", target)) and m.group(1) in unix_listen:
                    found.append(f"{proc.pid} {proc.name()}: listening unix socket {m.group(1)}")
        except (psutil.NoSuchProcess, FileNotFoundError, ProcessLookupError):
            continue
    return found


def _unix_listening_inodes() -> set[str]:
    inodes = set()
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 7 and int(fields[3], 16) & 0x10000:  # __SO_ACCEPTCON: listen() was called
            inodes.add(fields[6])
    return inodes


def test_the_checker_sees_a_listening_socket() -> None:
    code = "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        wait_until(lambda: listening([psutil.Process(proc.pid)]), what="the listening socket")
    finally:
        proc.kill()
        proc.wait()


def test_the_screen_and_its_run_listen_on_nothing(tmp_path: Path) -> None:
    tmux = Tmux(tmp_path, width=80, height=24)
    try:
        pane = tmux.start([MEMTUI], env=stand_in_env(tmp_path, rate=20, steps=100_000))
        tmux.wait_for(pane, lambda s: re.search(r"e1 +\d+/100000 loss", s) is not None, timeout=60, what="steps")
        memtui = next(p for p in tree(tmux.pane_pid(pane)) if MEMTUI in " ".join(p.cmdline()))
        procs = tree(memtui.pid)
        names = " ".join(" ".join(p.cmdline()) for p in procs)
        assert "tui.supervision.reaper" in names and "stand_in_trainer" in names  # the whole tree is looked at
        assert listening(procs) == []
    finally:
        tmux.kill()
        kill_all(tmp_path / "runs")


def test_headless_and_its_run_listen_on_nothing(tmp_path: Path) -> None:
    env = {**os.environ, **stand_in_env(tmp_path, rate=20, steps=100_000)}
    proc = subprocess.Popen([MEMTUI, "run", "--headless"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        wait_until(lambda: any("stand_in_trainer" in " ".join(p.cmdline()) for p in tree(proc.pid)[1:]),
                   what="the trainer")
        time.sleep(0.5)  # a few steps in: the sampler and follower are running
        procs = tree(proc.pid)
        assert len(procs) >= 3
        assert listening(procs) == []
        proc.send_signal(signal.SIGINT)  # headless stops the run on Ctrl-C
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
        kill_all(tmp_path / "runs")
    assert not holders_of(tmp_path / "runs")
