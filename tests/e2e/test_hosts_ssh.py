"""`--hosts`: a group's workers reached over a real OpenSSH connection (the test's
own sshd on 127.0.0.1), each run by memtui's agent on that host.

`localhost,localhost` is two hosts to memtui: two SSH connections, two agents,
each worker in a private folder of its own, its events, log and memory sent
back over its connection. The stand-in trainer (no TensorFlow) serves where
only memtui's side is under test; the real JAX trainer where the group must
really train.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.sshserver import SshServer, find_sshd
from tests.tinydata import make_image_folder
from trainer.protocol import ExitCode
from tui.runs.store import RunStore

REPO = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(find_sshd() is None, reason="needs openssh-server (.ci/run installs it)"),
]


@pytest.fixture(scope="module")
def ssh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    server = SshServer(tmp_path_factory.mktemp("sshd"))
    yield server
    server.close()


def _ssh_command(server: SshServer) -> str:
    """MEMTUI_SSH for the test's sshd: its port and key, no host-key prompt."""
    return " ".join(shlex.quote(w) for w in [
        "ssh", "-i", str(server.user_key), "-p", str(server.port), "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])


def _env(server: SshServer, stand_in: bool, lease: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MEMTUI_TRAINER_MODULE", "KERAS_BACKEND")}
    env["MEMTUI_SSH"] = _ssh_command(server)
    if lease is not None:
        env["MEMTUI_AGENT_LEASE"] = lease
    if stand_in:
        env["MEMTUI_TRAINER_MODULE"] = "tests.stand_in_trainer"
    return env


def _memtui(tmp_path: Path, server: SshServer, *flags: str, stand_in: bool = False, wait: bool = True,
            lease: str | None = None) -> subprocess.CompletedProcess[str] | subprocess.Popen[str]:
    argv = [sys.executable, "-m", "tui.cli", "run", "--headless", "--json", "--backend", "jax",
            "--runs-dir", str(tmp_path / "runs"), *flags]
    if not wait:
        return subprocess.Popen(argv, cwd=REPO, env=_env(server, stand_in, lease), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    return subprocess.run(argv, cwd=REPO, env=_env(server, stand_in, lease), capture_output=True, text=True,
                          timeout=240, stdin=subprocess.DEVNULL)


def _records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _wait(predicate: object, what: str, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_two_workers_over_ssh_train_one_model_and_every_file_comes_back(ssh: SshServer, tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data", classes=3, per_class=4, size=16)
    proc = _memtui(tmp_path, ssh, "--hosts", "localhost,localhost", "--data", str(data), "--image-size", "16",
                   "--batch-size", "4", "--epochs", "2", "--steps-per-epoch", "2")
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == ExitCode.FINISHED, proc.stdout[-3000:] + proc.stderr[-3000:]
    start = next(r for r in _records(proc.stdout) if r["type"] == "start")
    assert start["world_size"] == 2 and start["per_worker_batch"] == 2 and start["hosts"] == "localhost,localhost"

    (run,) = RunStore(tmp_path / "runs").run_dirs()
    losses = []
    for name in ("events.jsonl", "events.rank1.jsonl"):  # each rank's events, written here from its connection
        events = [json.loads(line) for line in (run.path / name).read_text().splitlines()]
        assert events[0]["type"] == "run_start" and events[-1]["type"] == "run_end", name
        losses.append({(e["epoch"], e["step"]): e["loss"] for e in events if e["type"] == "step"})
    common = losses[0].keys() & losses[1].keys()
    assert common and all(losses[0][k] == losses[1][k] for k in common)  # one model, trained in step
    workers = json.loads((run.path / "workers.json").read_text())["workers"]
    assert [w["host"] for w in workers] == ["localhost", "localhost"]
    assert all(w["returncode"] == 0 and not w["lost_connection"] and w["remote_pid"] for w in workers)
    reading = json.loads((run.path / "hostmem.rank1.json").read_text())  # the agent's memory reading
    assert reading["rank"] == 1 and reading["rss"] > 0
    # Each worker ran in a folder of its own on its host (here the same disk), removed once it ended.
    assert not list(Path(tempfile.gettempdir()).glob(f"memtui-agent-*/{run.path.name}.rank*"))
    assert "Fatal Python error" not in (run.path / "trainer.rank1.log").read_text()


def test_hosts_that_cannot_take_a_worker_are_named_one_line_each_before_anything_starts(
    ssh: SshServer, tmp_path: Path
) -> None:
    proc = _memtui(tmp_path, ssh, "--hosts", "nosuch.invalid,localhost", stand_in=True)
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("memtui run: host nosuch.invalid: cannot be reached over SSH")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists() or not list(RunStore(tmp_path / "runs").run_dirs())


def _running(tmp_path: Path, server: SshServer, lease: str, epochs: int) -> tuple[subprocess.Popen[str], Path]:
    """A stand-in group over SSH (20 steps an epoch, 50 a second); its run folder once both workers report."""
    proc = _memtui(tmp_path, server, "--hosts", "localhost,localhost", "--epochs", str(epochs),
                   "--steps-per-epoch", "20", stand_in=True, wait=False, lease=lease)
    assert isinstance(proc, subprocess.Popen)
    runs = tmp_path / "runs"
    _wait(lambda: list(runs.glob("*/hostmem.rank1.json")) and list(runs.glob("*/workers.json"))
          and list(runs.glob("*/events.jsonl")), "both workers running over SSH")
    return proc, next(runs.glob("*/workers.json")).parent


def test_a_dropped_connection_is_made_again_and_the_run_goes_on(ssh: SshServer, tmp_path: Path) -> None:
    proc, run_dir = _running(tmp_path, ssh, lease="30", epochs=12)
    try:
        workers = json.loads((run_dir / "workers.json").read_text())["workers"]
        _wait(lambda: (run_dir / "events.jsonl").read_text().count('"type":"step"') >= 5, "steps from rank 0")
        os.kill(workers[0]["pid"], signal.SIGKILL)  # rank 0's ssh client: its connection, not the worker
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == ExitCode.FINISHED, out[-3000:] + err[-3000:]
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    steps = [(e["epoch"], e["step"]) for e in events if e["type"] == "step"]
    assert steps == sorted(set(steps)) and len(steps) == 12 * 20  # every step once: no gap, nothing twice
    assert events[-1]["type"] == "run_end" and events[-1]["status"] == "finished"
    record = json.loads((run_dir / "exit.json").read_text())["workers"][0]
    assert record["reconnects"] >= 1 and record["lost_connection"] is False
    assert "reconnecting" in (run_dir / "trainer.log").read_text()


def test_a_connection_that_cannot_be_made_again_is_named_and_no_worker_is_left(tmp_path: Path) -> None:
    server = SshServer(tmp_path / "own-sshd")  # this test closes it
    try:
        proc, run_dir = _running(tmp_path, server, lease="4", epochs=50)
        try:
            workers = json.loads((run_dir / "workers.json").read_text())["workers"]
            remote = json.loads((run_dir / "hostmem.rank1.json").read_text())["pid"]
            server.close()  # no new connections: sessions already open go on
            os.kill(workers[1]["pid"], signal.SIGKILL)  # rank 1's ssh client
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    finally:
        server.close()
    assert proc.returncode == ExitCode.ERROR, out[-3000:] + err[-3000:]
    verdict = next(r for r in _records(out) if r["type"] == "verdict")["verdict"]
    assert verdict["kind"] == "crash" and verdict["details"]["lost_connection"] is True
    assert "SSH connection to worker rank 1 of 2 on localhost was lost" in verdict["summary"]
    assert "not an out-of-memory" in verdict["summary"] and verdict["remedies"] == []
    exit_info = json.loads((run_dir / "exit.json").read_text())
    assert exit_info["failed_rank"] == 1 and exit_info["workers"][0]["stopped_by_group"] == "SIGTERM"
    # Nobody came back for rank 1 within its lease: its keeper stopped it. Nothing keeps a GPU.
    _wait(lambda: not psutil.pid_exists(remote) or psutil.Process(remote).status() == psutil.STATUS_ZOMBIE,
          "the remote worker to be stopped by its keeper", limit=30)
