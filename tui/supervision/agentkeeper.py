"""The keeper: the process on a worker's host that owns the worker (`--hosts`).

`agent worker` starts it detached (a session of its own, no terminal, stdin
from /dev/null), so it and its worker outlive the SSH connection that started
them, as a local run outlives a dropped SSH. It is the worker's parent, so it
always learns the exit status, and writes it to the worker's folder
(`end.json`). A follower (tui/supervision/agentfollow.py: the process at the
far end of each SSH connection) touches `lease` about once a second while
memtui is connected. When no follower has touched it for the lease (memtui's
reaper was killed, the machine memtui runs on went away, the network never
came back), the keeper stops the worker (SIGTERM, SIGKILL after a grace): no
orphan keeps holding a GPU. Once the worker has ended and no follower came
for its ending within the lease, the keeper removes the folder.

Standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from trainer.runfiles import write_json_atomic

STATE_FILE = "agent.json"  # the keeper: the worker's pid and the lease
END_FILE = "end.json"  # the keeper: how the worker ended
LEASE_FILE = "lease"  # the followers: touched while memtui is connected
JOB_FILE = "job.json"  # `agent worker`: what to run (argv, cwd, env)
TERM_GRACE = 2.0
POLL = 0.1


def touch(path: Path) -> None:
    try:
        path.touch()
    except OSError:
        pass


def _lease_age(folder: Path) -> float:
    try:
        return time.time() - (folder / LEASE_FILE).stat().st_mtime
    except OSError:
        return float("inf")


def keep(folder: Path, lease: float) -> int:
    """Run the job in `folder`, wait for it, write end.json; stop it if the lease runs out."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    job = json.loads((folder / JOB_FILE).read_text(encoding="utf-8"))
    with open(folder / str(job["log"]), "ab", buffering=0) as log:
        try:
            child = subprocess.Popen([*job["argv"]], cwd=job.get("cwd") or None, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, env=job["env"], start_new_session=True)
        except OSError as exc:
            write_json_atomic(folder / END_FILE, {"returncode": None, "error": f"cannot start {job['argv'][0]}: {exc}"})
            return 1
    write_json_atomic(folder / STATE_FILE, {"pid": child.pid, "keeper": os.getpid(), "lease": lease})
    stopping: float | None = None
    while (code := child.poll()) is None:
        if stopping is None and _lease_age(folder) > lease:
            stopping = time.monotonic()  # memtui is gone for good: no orphan keeps the GPU
            _killpg(child.pid, signal.SIGTERM)
        elif stopping is not None and time.monotonic() - stopping > TERM_GRACE:
            _killpg(child.pid, signal.SIGKILL)
        time.sleep(POLL)
    write_json_atomic(folder / END_FILE, {"returncode": code, "lease_ran_out": stopping is not None})
    # A follower sends the ending and removes the folder; if none comes within the lease, nobody will.
    deadline = time.monotonic() + lease
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(POLL * 5)
    shutil.rmtree(folder, ignore_errors=True)
    return 0


def _killpg(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except OSError:
        pass


def start(folder: Path, lease: float) -> None:
    """The keeper, detached: its own session, nothing inherited from the SSH session but the environment."""
    subprocess.Popen([sys.executable, "-m", "tui.supervision.agent", "keep", "--folder", str(folder),
                      "--lease", str(lease)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=open(folder / "keeper.log", "ab"), start_new_session=True, close_fds=True)  # noqa: SIM115
