"""`--workers 2`: a real two-process JAX job on CPU (Gloo collectives), tiny data, few steps.

Each test starts memtui headless, which starts one reaper and two trainers
that import TensorFlow and JAX: about 30-70 s on the loaded 2-core machine.
Two tests only: a group that trains to the end with the same loss on both
ranks, and a worker SIGKILLed mid-run, after which the other is gone within
5 s and the verdict names the killed rank.
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

from tests.tinydata import make_image_folder
from tests.waiting import wait_until
from trainer.protocol import ExitCode
from tui.runs.store import RunStore

pytestmark = [
    pytest.mark.jax,
    pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed: pip install '.[jax]'"),
]
REPO = Path(__file__).resolve().parent.parent
STOP_WITHIN = 5.0  # seconds from a worker's death to the whole group gone (issue 22)


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
    assert len(rank0) >= 2 and [s[:2] for s in rank0] == [s[:2] for s in rank1]
    assert rank0 == rank1  # one model, trained in step: the same loss at every step on both ranks
    first = json.loads((run.path / "events.rank1.jsonl").read_text().splitlines()[0])
    assert first["type"] == "run_start" and first["world_size"] == 2 and first["rank"] == 1
    assert first["per_worker_batch"] == 2 and first["replicas"] == 2  # DataParallel over both processes' devices
    exit_info = run.exit_info()
    assert exit_info["returncode"] == 0 and [w["returncode"] for w in exit_info["workers"]] == [0, 0]
    assert not list(run.path.glob(".backup-scratch*"))  # only rank 0 keeps a backup


def test_a_worker_killed_with_sigkill_stops_the_group_within_5_s_and_the_verdict_names_it(tmp_path: Path) -> None:
    memtui = subprocess.Popen(_memtui(tmp_path, "--epochs", "1", "--steps-per-epoch", "5000"), cwd=REPO, env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        runs = RunStore(tmp_path / "runs")

        def stepping() -> bool:
            dirs = runs.run_dirs()
            rank1 = dirs[0].path / "events.rank1.jsonl" if dirs else None
            return rank1 is not None and rank1.exists() and '"step"' in rank1.read_text()

        wait_until(stepping, timeout=180, what="rank 1's first step")
        (run,) = runs.run_dirs()
        pids = [w["pid"] for w in json.loads((run.path / "workers.json").read_text())["workers"]]
        killed = time.monotonic()
        os.kill(pids[1], signal.SIGKILL)
        survivor = psutil.Process(pids[0])
        with pytest.raises(psutil.NoSuchProcess):
            while True:  # the reaper reaps it: gone, not a zombie
                if survivor.status() == psutil.STATUS_ZOMBIE:
                    time.sleep(0.01)
                    continue
                assert time.monotonic() - killed < STOP_WITHIN + 5, "rank 0 still runs"
                time.sleep(0.01)
        gone = time.monotonic() - killed
        out, _err = memtui.communicate(timeout=60)
    finally:
        if memtui.poll() is None:
            memtui.kill()
            memtui.wait()
    assert gone < STOP_WITHIN, f"rank 0 was gone {gone:.1f} s after rank 1 died"
    verdict = next(r for r in _records(out) if r["type"] == "verdict")["verdict"]
    assert verdict["details"]["failed_rank"] == 1, verdict
    assert verdict["summary"].startswith("Worker rank 1 of 2 failed first"), verdict["summary"]
    assert verdict["kind"] == "killed" and "SIGKILL" in verdict["evidence"][0]
    exit_info = run.exit_info()
    assert exit_info["failed_rank"] == 1 and exit_info["all_stopped_seconds"] < STOP_WITHIN
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)
