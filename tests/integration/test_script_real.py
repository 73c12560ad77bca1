"""The user's own Keras script under the real `memtui run --headless`, with real
TensorFlow: a script trained to its end, and a real host out-of-memory error
(an address-space limit, --host-memory-limit) recovered by --auto-recover
halving the batch, on in-memory arrays and through `{batch_size}` in the
command. Five TensorFlow start-ups in all."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tui.common.verdict import HOST_OOM
from tui.runs.store import RunStore

pytestmark = pytest.mark.tf

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "tests" / "scripts"
# tests/scripts/host_oom.py with 1024 samples under 3264 MB of address space (measured
# on this project's 2-CPU machine): batch 1024 runs out of memory in fit(), 512 fits.
LIMIT_MB = "3264"
OOM_BATCH = 1024


def memtui(work: Path, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real command, run from the user's folder `work`, with the Python that
    has TensorFlow first on PATH: `python` in the command is resolved from it."""
    env = {**os.environ, "MEMTUI_RUNS_DIR": str(work.parent / "runs"), "PYTHONPATH": str(REPO),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "1"}
    return subprocess.run([sys.executable, "-m", "tui.cli", *argv], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=work, stdin=subprocess.DEVNULL)


def records(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def events(out: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [r["event"] for r in out if r["type"] == "event" and r["event"]["type"] == type_]


def user_folder(tmp_path: Path, script: str) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(SCRIPTS / script, work / "train.py")
    return work


def test_a_script_trains_to_its_end_and_is_listed_with_its_command(tmp_path: Path) -> None:
    work = user_folder(tmp_path, "mnist_arrays.py")
    done = memtui(work, "run", "--headless", "--", "python", "train.py", "--epochs", "2", "--after", "after.txt")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "fit() started: model mnist_convnet" in done.stdout and "batch 32 (in-memory arrays" in done.stdout
    assert "epoch 2 done:" in done.stdout and "val_loss" in done.stdout
    assert "ended: Training finished after 10 steps." in done.stdout
    assert (work / "after.txt").read_text() == "iterations=10\n", "the script's own code after fit() ran, in its folder"
    run = RunStore(tmp_path / "runs").run_dirs()[0]
    meta = run.meta()
    assert meta["kind"] == "script" and meta["command"] == ["python", "train.py", "--epochs", "2", "--after",
                                                            "after.txt"]
    assert meta["workdir"] == str(work) and (run.path / "hook.json").exists()
    hello = json.loads((run.path / "hook.json").read_text())
    assert Path(hello["python"]).parent == Path(sys.executable).parent, "python came from the user's PATH"
    assert run.summary.state == "finished" and run.summary.steps == 10
    listing = memtui(work, "runs")
    assert listing.returncode == 0
    assert "script b32" in listing.stdout and "$ python train.py --epochs 2 --after after.txt" in listing.stdout
    as_json = json.loads(memtui(work, "runs", "--json").stdout.splitlines()[0])
    assert as_json["kind"] == "script" and as_json["command"] == "python train.py --epochs 2 --after after.txt"
    diagnosed = memtui(work, "diagnose", str(run.path))
    assert diagnosed.returncode == 0 and "Training finished after 10 steps" in diagnosed.stdout


def _recovered(tmp_path: Path, done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    out = records(done)
    relaunches = [r for r in out if r["type"] == "relaunch"]
    assert [r["rung"] for r in relaunches] == ["halve-batch-accum"], "one halving was enough"
    runs = sorted(RunStore(tmp_path / "runs").run_dirs(), key=lambda r: r.meta()["attempt"])
    assert len(runs) == 2
    first = runs[0].verdict()
    assert first is not None and first.kind == HOST_OOM, first
    assert runs[1].summary.state == "finished"
    return out


def test_a_real_host_oom_of_a_script_on_arrays_is_recovered_by_halving_its_batch(tmp_path: Path) -> None:
    work = user_folder(tmp_path, "host_oom.py")
    done = memtui(work, "run", "--headless", "--json", "--auto-recover", "--batch-size", str(OOM_BATCH),
                  "--host-memory-limit", LIMIT_MB, "--", "python", "train.py", "--batch", str(OOM_BATCH))
    out = _recovered(tmp_path, done)
    starts = events(out, "run_start")
    assert [(s["batch_size"], s["batch_control"], s["grad_accum"]) for s in starts] == [
        (OOM_BATCH, "arrays", 1), (OOM_BATCH // 2, "arrays", 2)]
    steps = events(out, "step")
    assert steps and {s["batch_size"] for s in steps} == {OOM_BATCH // 2}, "the events show the new batch"


def test_a_real_host_oom_of_a_batch_size_placeholder_script_is_recovered(tmp_path: Path) -> None:
    work = user_folder(tmp_path, "host_oom.py")
    done = memtui(work, "run", "--headless", "--json", "--auto-recover", "--batch-size", str(OOM_BATCH),
                  "--host-memory-limit", LIMIT_MB, "--", "python", "train.py", "--batch", "{batch_size}",
                  "--after", "after.txt")
    out = _recovered(tmp_path, done)
    starts = events(out, "run_start")
    assert [(s["batch_size"], s["batch_control"]) for s in starts] == [
        (OOM_BATCH, "placeholder"), (OOM_BATCH // 2, "placeholder")]
    runs = sorted(RunStore(tmp_path / "runs").run_dirs(), key=lambda r: r.meta()["attempt"])
    assert [r.meta()["launch"]["argv"][3] for r in runs] == [str(OOM_BATCH), str(OOM_BATCH // 2)]
    assert (work / "after.txt").exists(), "the relaunch ran the script to its end in the user's folder"
