"""`--workers 2`: a real two-process JAX job on CPU (Gloo collectives), tiny data, few steps.

Each test starts memtui headless, which starts one reaper and two trainers
that import TensorFlow and JAX: about 30-70 s on the loaded 2-core machine.
Three tests only: a group that trains to the end with the same loss on both
ranks; a worker SIGKILLed mid-run, after which the other is gone within 5 s
and the verdict names the killed rank; a real out-of-memory error in a
worker (under a per-worker --host-memory-limit) recovered by relaunching the
whole group with the global batch halved.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.tinydata import JAX_OOM_BATCH, JAX_OOM_LIMIT_MB, OOM_IMAGE_SIZE, make_image_folder
from tests.waiting import wait_until
from trainer.protocol import ExitCode
from tui.runs.store import RunStore

pytestmark = [
    pytest.mark.jax,
    pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed: pip install '.[jax]'"),
]
REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "scripts" / "data_parallel.py"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("MEMTUI_TRAINER_MODULE", "KERAS_BACKEND")}


def _memtui(tmp_path: Path, *flags: str) -> list[str]:
    data = make_image_folder(tmp_path / "data", classes=3, per_class=4, size=16)
    return [sys.executable, "-m", "tui.cli", "run", "--headless", "--json", "--backend", "jax", "--workers", "2",
            "--runs-dir", str(tmp_path / "runs"), "--data", str(data), "--image-size", "16", "--batch-size", "4",
            *flags]


def _records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _steps(path: Path) -> list[tuple[int, int, float]]:
    events = [json.loads(line) for line in path.read_text().splitlines()]
    return [(e["epoch"], e["step"], e["loss"]) for e in events if e["type"] == "step"]


def test_two_workers_train_in_step_with_the_same_loss_on_both_ranks(tmp_path: Path) -> None:
    proc = subprocess.run(_memtui(tmp_path, "--epochs", "2", "--steps-per-epoch", "2"), cwd=REPO, env=_env(),
                          capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert proc.returncode == ExitCode.FINISHED, proc.stdout[-3000:] + proc.stderr[-3000:]
    records = _records(proc.stdout)
    start = next(r for r in records if r["type"] == "start")
    assert start["world_size"] == 2 and start["per_worker_batch"] == 2  # --batch-size 4 is the global batch
    assert next(r for r in records if r["type"] == "verdict")["world_size"] == 2

    (run,) = RunStore(tmp_path / "runs").run_dirs()
    rank0, rank1 = _steps(run.path / "events.jsonl"), _steps(run.path / "events.rank1.jsonl")
    # Steps are coalesced in each process on its own clock: compare the steps both wrote.
    losses0, losses1 = {s[:2]: s[2] for s in rank0}, {s[:2]: s[2] for s in rank1}
    common = losses0.keys() & losses1.keys()
    assert len(common) >= 2 and all(losses0[k] == losses1[k] for k in common)  # one model, trained in step
    first = json.loads((run.path / "events.rank1.jsonl").read_text().splitlines()[0])
    assert first["type"] == "run_start" and first["world_size"] == 2 and first["rank"] == 1
    assert first["per_worker_batch"] == 2 and first["replicas"] == 2  # DataParallel over both processes' devices
    exit_info = run.exit_info()
    assert exit_info["returncode"] == 0 and [w["returncode"] for w in exit_info["workers"]] == [0, 0]
    assert not list(run.path.glob(".backup-scratch*"))  # only rank 0 keeps a backup


def test_a_worker_killed_with_sigkill_has_memtui_stop_the_group_and_the_verdict_names_it(tmp_path: Path) -> None:
    memtui = subprocess.Popen(_memtui(tmp_path, "--epochs", "1", "--steps-per-epoch", "5000"), cwd=REPO, env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        runs = RunStore(tmp_path / "runs")

        def stepping() -> bool:
            dirs = runs.run_dirs()
            rank1 = dirs[0].path / "events.rank1.jsonl" if dirs else None
            return rank1 is not None and rank1.exists() and '"type":"step"' in rank1.read_text()

        wait_until(stepping, timeout=180, what="rank 1's first step")
        (run,) = runs.run_dirs()
        pids = [w["pid"] for w in json.loads((run.path / "workers.json").read_text())["workers"]]
        killed = time.monotonic()
        os.kill(pids[1], signal.SIGKILL)
        survivor = psutil.Process(pids[0])

        def survivor_gone() -> bool:  # the reaper reaps it: gone, not a zombie
            try:
                survivor.status()  # running, or a zombie not yet reaped
            except psutil.NoSuchProcess:
                return True
            return False

        # Left alone, JAX's heartbeat aborts the survivor 70-90 s after a peer dies (SIGABRT);
        # memtui stops it at once. What stopped it is asserted below, not how fast.
        wait_until(survivor_gone, timeout=60, what="rank 0 to be stopped")
        gone = time.monotonic() - killed
        out, _err = memtui.communicate(timeout=60)
    finally:
        if memtui.poll() is None:
            memtui.kill()
            memtui.wait()
    verdict = next(r for r in _records(out) if r["type"] == "verdict")["verdict"]
    assert verdict["details"]["failed_rank"] == 1, verdict
    assert verdict["summary"].startswith("Worker rank 1 of 2 failed first"), verdict["summary"]
    assert verdict["kind"] == "killed" and "SIGKILL" in verdict["evidence"][0]
    exit_info = run.exit_info()
    assert exit_info["failed_rank"] == 1 and isinstance(exit_info["all_stopped_seconds"], float)
    rank0 = next(w for w in exit_info["workers"] if w["rank"] == 0)
    # memtui signalled rank 0 while it still ran, and it did not end by JAX's heartbeat abort (SIGABRT).
    assert rank0["stopped_by_group"] in ("SIGTERM", "SIGKILL") and rank0["returncode"] not in (-6, 134), (
        f"rank 0 was not stopped by memtui ({rank0}, gone {gone:.1f} s after rank 1 died)")
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)


def test_a_real_oom_in_a_worker_relaunches_the_whole_group_with_the_global_batch_halved(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data", classes=3, per_class=4, size=OOM_IMAGE_SIZE)
    global_batch = 2 * JAX_OOM_BATCH  # each worker feeds JAX_OOM_BATCH: the recipe's OOM under the limit
    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", "run", "--headless", "--json", "--auto-recover", "--backend", "jax",
         "--workers", "2", "--runs-dir", str(tmp_path / "runs"), "--data", str(data), "--image-size",
         str(OOM_IMAGE_SIZE), "--batch-size", str(global_batch), "--epochs", "2", "--steps-per-epoch", "1",
         "--host-memory-limit", str(JAX_OOM_LIMIT_MB)],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == ExitCode.FINISHED, proc.stdout[-4000:] + proc.stderr[-3000:]
    records = _records(proc.stdout)
    first_verdict = next(r for r in records if r["type"] == "verdict")
    verdict = first_verdict["verdict"]
    assert verdict["kind"] == "host-oom" and verdict["summary"].startswith("Worker rank "), verdict["summary"]
    rank = verdict["details"]["failed_rank"]
    runs = sorted(RunStore(tmp_path / "runs").run_dirs(), key=lambda r: r.meta()["attempt"])
    assert len(runs) == 2
    first, second = runs
    failing_events = first.path / ("events.jsonl" if rank == 0 else f"events.rank{rank}.jsonl")
    kinds = [json.loads(line)["type"] for line in failing_events.read_text().splitlines()]
    assert "oom" in kinds  # the blamed worker's own oom event
    (relaunch,) = [r for r in records if r["type"] == "relaunch"]
    assert relaunch["rung"] == "halve-batch-accum" and relaunch["config"]["workers"] == 2
    assert relaunch["per_worker_batch"] == JAX_OOM_BATCH // 2 and relaunch["world_size"] == 2
    assert second.config().batch_size == global_batch // 2 and second.summary.state == "finished"
    assert [w["returncode"] for w in second.exit_info()["workers"]] == [0, 0]
    pids = [w["pid"] for run in runs for w in run.exit_info()["workers"]]
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)


def _script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    work = tmp_path / "work"
    work.mkdir()
    env = {**_env(), "KERAS_BACKEND": "jax"}
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "--headless", "--json", "--workers", "2",
         "--runs-dir", str(tmp_path / "runs"), "--", sys.executable, str(SCRIPT), *args],
        cwd=work, env=env, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)


def test_a_users_script_under_workers_joins_the_group_and_trains_in_step(tmp_path: Path) -> None:
    proc = _script(tmp_path)
    assert proc.returncode == ExitCode.FINISHED, proc.stdout[-3000:] + proc.stderr[-3000:]
    (run,) = RunStore(tmp_path / "runs").run_dirs()
    rank0 = {s[:2]: s[2] for s in _steps(run.path / "events.jsonl")}
    rank1 = {s[:2]: s[2] for s in _steps(run.path / "events.rank1.jsonl")}
    common = rank0.keys() & rank1.keys()  # steps are coalesced in each process on its own clock
    assert len(common) >= 2 and all(rank0[k] == rank1[k] for k in common)  # the same loss on both ranks
    notes = json.loads((run.path / "events.rank1.jsonl").read_text().splitlines()[0])["notes"]
    assert any("worker 1 of 2: DataParallel over 2 devices" in n for n in notes), notes
    assert run.exit_info()["world_size"] == 2 and [w["returncode"] for w in run.exit_info()["workers"]] == [0, 0]


def test_a_crash_in_one_scripts_worker_stops_the_other_and_the_verdict_names_it(tmp_path: Path) -> None:
    proc = _script(tmp_path, "--die-after", "2", "--steps", "500")
    verdict = next(r for r in _records(proc.stdout) if r["type"] == "verdict")["verdict"]
    assert verdict["summary"].startswith("Worker rank 1 of 2 failed first"), verdict["summary"]
    assert "rank 1 broke on purpose" in verdict["summary"] and "stopped the other worker (rank 0)" in verdict["summary"]
    (run,) = RunStore(tmp_path / "runs").run_dirs()
    rank0 = next(w for w in run.exit_info()["workers"] if w["rank"] == 0)
    assert rank0["stopped_by_group"] in ("SIGTERM", "SIGKILL"), rank0  # memtui stopped it, not JAX's heartbeat


def test_a_stop_asked_for_ends_both_workers_gracefully_and_rank_0_keeps_the_backup(tmp_path: Path) -> None:
    memtui = subprocess.Popen(_memtui(tmp_path, "--epochs", "1", "--steps-per-epoch", "5000"), cwd=REPO, env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        runs = RunStore(tmp_path / "runs")
        rank1_files = lambda: (tmp_path / "runs").glob("*/events.rank1.jsonl")  # noqa: E731
        wait_until(lambda: any('"type":"step"' in p.read_text() for p in rank1_files()), timeout=180,
                   what="rank 1's first step")
        memtui.send_signal(signal.SIGINT)  # Ctrl-C: memtui stops the run gracefully
        out, _err = memtui.communicate(timeout=60)
    finally:
        if memtui.poll() is None:
            memtui.kill()
            memtui.wait()
    assert memtui.returncode == ExitCode.STOPPED
    outcome = next(r for r in _records(out) if r["type"] == "outcome")
    assert outcome["status"] == "stopped"
    (run,) = runs.run_dirs()
    exit_info = run.exit_info()
    assert exit_info["failed_rank"] is None and exit_info["stop_asked"]  # a stop is nobody's failure
    assert [w["returncode"] for w in exit_info["workers"]] == [ExitCode.STOPPED, ExitCode.STOPPED]
    assert list((tmp_path / "runs" / "backups").glob("*/*/latest.weights.h5"))  # rank 0 saved where it stopped
    assert not list(run.path.glob(".backup-scratch*"))
    files = (run.path / "events.jsonl", run.path / "events.rank1.jsonl")
    ends = [json.loads(p.read_text().splitlines()[-1]) for p in files]
    assert [e["status"] for e in ends] == ["stopped", "stopped"]
    assert ends[0]["steps"] == ends[1]["steps"]  # both stopped after the step rank 0 named in stop.at
    assert int((run.path / "stop.at").read_text()) + 1 == ends[0]["steps"]
