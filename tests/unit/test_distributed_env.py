"""trainer/distributed.py and the `workers` setting: the per-worker environment,
the per-worker batch, the refusals, and the group's choice of whom to blame
(tui/supervision/group.py), on real files. No JAX, no processes: fast.
The refusals through the real commands are in tests/integration/test_workers_refusals.py."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from trainer.config import ConfigError, RunConfig
from trainer.distributed import (
    CPU_COLLECTIVES,
    JOB_ADDRESSES,
    NUM_PROCESSES,
    PROCESS_ID,
    VISIBLE_GPUS,
    Worker,
    WorkersError,
    events_name,
    free_port,
    gpu_ids,
    log_name,
    per_worker_batch,
    this_worker,
    worker_env,
)
from tui.common.verdict import KILLED, Verdict
from tui.runs.folder import RunDir
from tui.supervision import group
from tui.supervision.groupends import evidence, name_worker


def test_each_worker_gets_the_coordinator_the_count_its_id_and_cpu_collectives_on_a_cpu_host() -> None:
    env = worker_env(1, 2, "127.0.0.1:4321", None)
    assert env == {JOB_ADDRESSES: "127.0.0.1:4321", NUM_PROCESSES: "2", PROCESS_ID: "1", CPU_COLLECTIVES: "gloo"}


def test_on_a_gpu_host_each_worker_sees_one_gpu_and_no_cpu_collectives() -> None:
    gpus = gpu_ids({VISIBLE_GPUS: "2,3"})
    assert gpus == ["2", "3"]
    assert [worker_env(r, 3, "h:1", gpus)[VISIBLE_GPUS] for r in range(3)] == ["2", "3", "2"]
    assert CPU_COLLECTIVES not in worker_env(0, 2, "h:1", gpus)
    assert gpu_ids({VISIBLE_GPUS: "-1"}) is None  # GPUs hidden on purpose: a CPU group


def test_the_coordinator_port_is_free_to_bind() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # nobody holds it


def test_batch_size_is_the_global_batch_split_evenly_or_refused_in_one_line() -> None:
    assert per_worker_batch(32, 4) == 8
    assert RunConfig(backend="jax", workers=2, batch_size=8).worker_batch == 4
    with pytest.raises(WorkersError) as err:
        per_worker_batch(33, 2)
    assert "\n" not in str(err.value) and "--batch-size 32" in str(err.value)
    with pytest.raises(ConfigError, match="cannot be split evenly over 3 workers"):
        RunConfig(backend="jax", workers=3, batch_size=32)


def test_a_process_knows_its_rank_only_when_it_is_one_of_a_group() -> None:
    assert this_worker({NUM_PROCESSES: "2", PROCESS_ID: "1"}) == Worker(1, 2)
    assert this_worker({NUM_PROCESSES: "1", PROCESS_ID: "0"}) is None
    assert this_worker({NUM_PROCESSES: "2", PROCESS_ID: "2"}) is None
    assert this_worker({}) is None
    assert (events_name(0), events_name(1), log_name(0), log_name(3)) == (
        "events.jsonl", "events.rank1.jsonl", "trainer.log", "trainer.rank3.log")


def test_workers_round_trip_through_config_json_and_default_to_one() -> None:
    cfg = RunConfig(backend="jax", workers=4, batch_size=16)
    assert RunConfig.from_json(cfg.to_json()).workers == 4
    assert RunConfig().workers == 1
    with pytest.raises(ConfigError, match="--workers: 0 is out of range"):
        RunConfig(workers=0)


def _member(run: Path, rank: int, code: int, ended: float, stopped: str | None = None) -> group.Member:
    class _Done:
        pid = 1000 + rank

    m = group.Member(rank, _Done(), log_name(rank), events_name(rank))  # type: ignore[arg-type]
    m.returncode, m.ended, m.stopped_by_group = code, ended, stopped
    return m


def test_blame_goes_to_the_worker_with_its_own_oom_not_to_a_survivor_that_ended_first(tmp_path: Path) -> None:
    (tmp_path / "trainer.log").write_text("jax.errors.JaxRuntimeError: UNKNOWN: Gloo all-reduce failed: "
                                          "Connection closed by peer [127.0.0.1]:1\n")
    (tmp_path / "events.rank1.jsonl").write_text(json.dumps({"v": 1, "type": "oom", "t": 1.0, "kind": "host",
                                                            "message": "RESOURCE_EXHAUSTED"}) + "\n")
    members = [_member(tmp_path, 0, 4, 10.0), _member(tmp_path, 1, 3, 10.5)]
    assert group.blame(tmp_path, members).rank == 1


def test_blame_skips_a_lost_peer_error_and_workers_memtui_stopped(tmp_path: Path) -> None:
    (tmp_path / "trainer.log").write_text("Terminating process because the JAX distributed service detected "
                                          "fatal errors\n")
    members = [_member(tmp_path, 0, -6, 9.0), _member(tmp_path, 1, -9, 9.5), _member(tmp_path, 2, -15, 9.6,
                                                                                     "SIGTERM")]
    assert group.blame(tmp_path, members).rank == 1
    assert group.blame(tmp_path, [_member(tmp_path, 0, 0, 1.0), _member(tmp_path, 1, 0, 1.0)]) is None


def test_the_verdict_reads_the_failing_workers_files_and_names_it(tmp_path: Path) -> None:
    (tmp_path / "trainer.log").write_text("rank 0: Gloo all-reduce failed\n")
    (tmp_path / "trainer.rank1.log").write_text("Traceback ...\nRuntimeError: rank one broke\n")
    (tmp_path / "events.rank1.jsonl").write_text(json.dumps({"v": 1, "type": "error", "t": 1.0,
                                                            "exception": "RuntimeError", "message": "x"}) + "\n")
    exit_info = {"world_size": 2, "failed_rank": 1, "all_stopped_seconds": 0.4, "workers": [
        {"rank": 0, "returncode": -15, "signal": "SIGTERM", "log": "trainer.log", "events": "events.jsonl",
         "stopped_by_group": "SIGTERM"},
        {"rank": 1, "returncode": -9, "signal": "SIGKILL", "log": "trainer.rank1.log", "events": "events.rank1.jsonl",
         "stopped_by_group": None}]}
    tail, events = evidence(RunDir(tmp_path), exit_info, "rank 0's tail", ())
    assert "rank one broke" in tail and [e.type for e in events] == ["error"]
    verdict = name_worker(Verdict(KILLED, "The trainer was killed by signal 9."), exit_info)
    assert verdict.summary.startswith("Worker rank 1 of 2 failed first")
    assert "stopped the other worker (rank 0)" in verdict.summary and "0.4 s" in verdict.summary
    assert verdict.details["failed_rank"] == 1 and verdict.evidence[0] == "worker rank 1: exit -9 (SIGKILL)"
    # One process: nothing changes.
    assert name_worker(verdict, {"returncode": 0}) is verdict


def test_halving_a_groups_batch_keeps_an_equal_share_for_every_worker() -> None:
    from tui.remedies.changes import halve_batch

    assert halve_batch(RunConfig(backend="jax", workers=4, batch_size=24)).config.batch_size == 12
    assert halve_batch(RunConfig(backend="jax", workers=4, batch_size=40)).config.batch_size == 20
    assert halve_batch(RunConfig(backend="jax", workers=3, batch_size=18)).config.batch_size == 9 - 9 % 3
    assert halve_batch(RunConfig(backend="jax", workers=4, batch_size=12)).config.batch_size == 4  # 6 → 4
