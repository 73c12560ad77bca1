"""`--hosts`: the list read into one host per rank, the config's rules, the words
on screen, and the readings of workers on other hosts as the memory panel draws
them. (Over a real sshd: tests/e2e/test_hosts_ssh.py; the agent's own protocol:
tests/integration/test_agent.py.)"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from tests.recorded import cpu_snapshot
from trainer.config import ConfigError, RunConfig
from trainer.hosts import HostsError, coordinator_host, local_ranks, parse_hosts
from tui.kinds.words import header_words
from tui.supervision.remote import forwarded_env, memory_name, ssh_argv
from tui.telemetry.host import remote_workers
from tui.telemetry.snapshot import TrainerUsage, WorkerUsage
from tui.ui.widgets.memory import MemoryPanel

GIB = 1 << 30


@pytest.mark.parametrize(("spec", "ranks"), [
    ("a,b", ("a", "b")),
    ("gpu1:2,gpu2", ("gpu1", "gpu1", "gpu2")),
    (" me@box.lan , 10.0.0.7:2 ", ("me@box.lan", "10.0.0.7", "10.0.0.7")),
    ("localhost,localhost", ("localhost", "localhost")),
])
def test_hosts_read_as_one_destination_per_rank_in_the_order_written(spec: str, ranks: tuple[str, ...]) -> None:
    assert parse_hosts(spec) == ranks


@pytest.mark.parametrize(("spec", "words"), [
    ("a,,b", "an empty entry"),
    ("a b,c", "is not an SSH destination"),
    ("a:x,b", "must be a whole number of workers"),
    ("a:0,b", "must be a whole number of workers"),
    ("solo", "names one worker"),
    ("-oProxyCommand=evil,b", "is not an SSH destination"),  # never an ssh option in disguise
])
def test_a_host_list_that_cannot_run_says_why_in_one_line(spec: str, words: str) -> None:
    with pytest.raises(HostsError, match=words) as info:
        parse_hosts(spec)
    assert "\n" not in str(info.value)


def test_each_rank_knows_its_place_on_its_host_and_the_coordinator_is_rank_0s_host() -> None:
    assert local_ranks(("a", "a", "b", "a")) == [0, 1, 0, 2]
    assert coordinator_host("me@gpu1") == "gpu1" and coordinator_host("gpu1") == "gpu1"


def test_the_config_takes_its_worker_count_from_the_hosts_and_refuses_what_cannot_run() -> None:
    cfg = RunConfig(backend="jax", hosts="gpu1:2,gpu2", batch_size=6)
    assert cfg.workers == 3 and cfg.worker_batch == 2
    assert RunConfig.from_json(cfg.to_json()) == cfg  # what config.json keeps, read back
    with pytest.raises(ConfigError, match="disagree"):
        RunConfig(backend="jax", hosts="a,b", workers=3, batch_size=6)
    with pytest.raises(ConfigError, match="--hosts a,b needs --backend jax"):
        RunConfig(hosts="a,b")
    with pytest.raises(ConfigError, match="cannot be split evenly over 3"):
        RunConfig(backend="jax", hosts="a:3", batch_size=32)


def test_the_header_says_how_many_hosts() -> None:
    assert "3 workers on 2 hosts × batch 2" in header_words(RunConfig(backend="jax", hosts="a:2,b", batch_size=6))
    assert "2 workers on 1 host × batch" in header_words(RunConfig(backend="jax", hosts="a:2", batch_size=4))


def test_ssh_is_the_users_own_in_batch_mode_and_only_memtuis_variables_travel(monkeypatch: pytest.MonkeyPatch
                                                                              ) -> None:
    monkeypatch.setenv("MEMTUI_SSH", "ssh -p 2222 -i /keys/gpu")
    argv = ssh_argv("gpu1", "true")
    assert argv[:5] == ["ssh", "-p", "2222", "-i", "/keys/gpu"] and argv[-2:] == ["gpu1", "true"]
    assert "BatchMode=yes" in argv  # keys only: never a password prompt in a headless run
    env = forwarded_env({"MEMTUI_HOOK": "{}", "KERAS_BACKEND": "jax", "PATH": "/mine", "HOME": "/root",
                         "PYTHONPATH": "/boot", "KERAS_DISTRIBUTION_PROCESS_ID": "0", "SECRET_TOKEN": "x"})
    assert env == {"MEMTUI_HOOK": "{}", "KERAS_BACKEND": "jax", "PYTHONPATH": "/boot"}


def _reading(run: Path, rank: int, **fields: object) -> None:
    (run / memory_name(rank)).write_text(json.dumps({"t": "mem", "rank": rank, "host": f"gpu{rank}", **fields}))


def test_remote_readings_become_workers_with_their_host_and_device_and_stale_ones_are_dropped(tmp_path: Path) -> None:
    _reading(tmp_path, 0, pid=11, rss=GIB, host_total=64 * GIB, gpus=[])
    _reading(tmp_path, 1, pid=12, rss=GIB, gpus=[{"index": 3, "name": "H100", "used": 9 * GIB,
                                                  "total": 80 * GIB, "own": 5 * GIB}])
    _reading(tmp_path, 2, pid=13, rss=GIB, gpus=[])
    old = time.time() - 60
    os.utime(tmp_path / memory_name(2), (old, old))  # a worker whose agent stopped sending
    workers = remote_workers(tmp_path)
    assert [w.rank for w in workers] == [0, 1]
    assert workers[0] == WorkerUsage(0, 11, GIB, "gpu0", "CPU", GIB, 64 * GIB)
    assert workers[1] == WorkerUsage(1, 12, GIB, "gpu1", "GPU3", 5 * GIB, 80 * GIB)  # its own share, not the device's


def test_the_memory_panel_draws_remote_workers_on_their_hosts_devices(tmp_path: Path) -> None:
    snap = cpu_snapshot(1.0)
    workers = (WorkerUsage(0, 11, GIB, "gpu0", "CPU", GIB, 64 * GIB),
               WorkerUsage(1, 12, GIB, "gpu1", "GPU3", 5 * GIB, 80 * GIB))
    trainer = TrainerUsage((10,), 30 << 20, 1.0, workers)
    panel = MemoryPanel()
    panel.feed(type(snap)(t=snap.t, gpus=snap.gpus, host=snap.host, trainer=trainer, gpu_status=snap.gpu_status,
                          gpu_message=snap.gpu_message), draw=False)
    lines = panel.lines(100)
    assert any("2 workers on 2 hosts" in line for line in lines), lines
    rows = [line for line in lines if line.lstrip().startswith("rank ")]
    assert "rank 0 gpu0 CPU" in rows[0] and "1.0 GiB/64.0 GiB" in rows[0]
    assert "rank 1 gpu1 GPU3" in rows[1] and "5.0 GiB/80.0 GiB" in rows[1] and "peak 5.0 GiB" in rows[1]


def test_the_line_the_remote_shell_runs_keeps_every_hostile_name_a_name(tmp_path: Path) -> None:
    """SSH gives the host's shell one command line; a folder full of shell syntax must stay a folder."""
    import subprocess

    from tui.supervision.remote import agent_command

    folder = tmp_path / "x$(touch PWNED-a);touch PWNED-b;`touch PWNED-c`'\"|&*?"
    folder.mkdir()
    line = agent_command(str(folder), "hello", "--folder", str(folder))
    done = subprocess.run(["sh", "-c", line], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["folder"] is True  # the agent got the name whole
    assert not list(tmp_path.rglob("PWNED*"))


def test_hosts_on_the_command_line_reach_a_scripts_config_and_the_built_in_trainers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script's backend is its own: --hosts must not be refused as the built-in trainer's TensorFlow."""
    from tui.cli import build_parser
    from tui.cli.options import resolve_run_config

    (tmp_path / "train.py").write_text("print('hi')\n")
    monkeypatch.chdir(tmp_path)
    ns = build_parser("run").parse_args(["--hosts", "gpu1,gpu2"])
    ns.command = [sys.executable, "train.py"]
    script = resolve_run_config(ns)
    assert script.kind == "script" and script.hosts == "gpu1,gpu2" and script.workers == 2
    ns = build_parser("run").parse_args(["--hosts", "gpu1:2", "--backend", "jax", "--batch-size", "8"])
    ns.command = None
    builtin = resolve_run_config(ns)
    assert builtin.kind == "builtin" and builtin.workers == 2 and builtin.worker_batch == 4


@pytest.mark.parametrize(("ssh", "words"), [
    ('ssh "unclosed', "cannot be read as a command (No closing quotation)"),
    ("/", "cannot run the ssh command '/' (Permission denied)"),
    ("/nonexistent/ssh", "no ssh client here (/nonexistent/ssh)"),
])
def test_a_wrong_memtui_ssh_is_one_line_not_a_traceback(ssh: str, words: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tui.supervision.remote import hello

    monkeypatch.setenv("MEMTUI_SSH", ssh)
    answer = hello("gpu1", "/", "0.1.0")
    assert answer.info is None and answer.problem is not None and words in answer.problem
    assert "\n" not in answer.problem
