"""`memtui run --headless -- COMMAND` and `memtui find-batch -- COMMAND` end to
end through the real command line, reaper and hook, without TensorFlow: the
user's command is tests/stand_in_script.py (reporting through the real hook),
a plain Python script, or a program that is not Python at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tui.runs.store import RunStore

REPO = Path(__file__).resolve().parents[2]
STAND_IN = str(REPO / "tests" / "stand_in_script.py")
PY = sys.executable


def memtui(tmp_path: Path, *argv: str, plan: dict[str, Any] | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEMTUI_RUNS_DIR": str(tmp_path / "runs"), "STAND_IN_FIT": json.dumps(plan or {}),
           "PYTHONPATH": str(REPO)}
    return subprocess.run([PY, "-m", "tui.cli", *argv], capture_output=True, text=True, env=env, timeout=timeout,
                          cwd=tmp_path, stdin=subprocess.DEVNULL)


def records(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_auto_recover_climbs_the_ladder_a_script_supports(tmp_path: Path) -> None:
    done = memtui(tmp_path, "run", "--headless", "--json", "--auto-recover", "--batch-size", "64", "--",
                  PY, STAND_IN, plan={"oom_above": 16, "steps": 2})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    out = records(done)
    rungs = [r["rung"] for r in out if r["type"] == "relaunch"]
    # A host OOM: no memory growth or XLA (GPU only), no model switch (the script's own model).
    assert rungs == ["halve-batch-accum", "mixed-precision", "halve-batch"]
    starts = [r["event"] for r in out if r["type"] == "event" and r["event"]["type"] == "run_start"]
    assert [(s["batch_size"], s["grad_accum"], s["dtype_policy"]) for s in starts] == [
        (64, 1, "float32"), (32, 2, "float32"), (32, 2, "mixed_float16"), (16, 2, "mixed_float16")]
    assert out[-1]["type"] == "outcome" and out[-1]["status"] == "finished" and out[-1]["attempts"] == 4


def test_find_batch_on_a_script_searches_with_the_hook_and_prints_the_command(tmp_path: Path) -> None:
    done = memtui(tmp_path, "find-batch", "--max-batch", "256", "--probe-steps", "1", "--", PY, STAND_IN,
                  "--lr", "0.1", plan={"oom_above": 100, "steps": 50, "epochs": 3})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "each a fresh run of your command" in done.stdout
    assert "Largest batch that fits: 100." in done.stdout
    launch = next(line for line in done.stdout.splitlines() if line.startswith("Launch with:"))
    assert launch == f"Launch with: memtui --batch-size 90 -- {PY} {STAND_IN} --lr 0.1"
    for run in RunStore(tmp_path / "runs").run_dirs():
        settings = json.loads(run.meta()["launch"]["env"]["MEMTUI_HOOK"])
        assert settings["max_steps"] == 1 and settings["max_epochs"] == 1 and settings["batch_size"] >= 32
        assert run.events_path.read_bytes().count(b'"type":"step"') <= 1


def test_find_batch_refuses_a_script_whose_batch_cannot_be_set(tmp_path: Path) -> None:
    done = memtui(tmp_path, "find-batch", "--", PY, STAND_IN, plan={"control": "none"})
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "memtui find-batch: cannot search: the script's fit() gets a generator or a PyDataset, whose batch memtui "
        "cannot set from outside; write {batch_size} in the command (e.g. --batch {batch_size}) to let memtui "
        "set it"]


def test_a_crashing_script_is_crashed_with_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("import sys\n\n\ndef main():\n    return x_train\n\n\nmain()\n")
    done = memtui(tmp_path, "run", "--headless", "--", PY, "train.py")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "ended: The script crashed with NameError: name 'x_train' is not defined" in done.stdout
    assert "evidence: in your script: train.py:5 in main: return x_train" in done.stdout
    assert "no Keras fit() was seen" not in done.stdout  # the crash says what happened


def test_a_script_without_fit_and_a_program_that_is_not_python_say_so_once(tmp_path: Path) -> None:
    done = memtui(tmp_path, "run", "--headless", "--", PY, STAND_IN, plan={"no_fit": True})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("no Keras fit() and no optimizer update were seen in this run") == 1
    assert "The command finished (exit 0); no Keras fit() was seen" in done.stdout
    other = memtui(tmp_path, "run", "--headless", "--json", "--", "sh", "-c", "echo hello; sleep 6")
    assert other.returncode == 0, other.stdout + other.stderr
    notes = [r["message"] for r in records(other) if r["type"] == "note"]
    assert len(notes) == 1 and notes[0].startswith("no sign of the hook in this process")
    run = next(r for r in RunStore(tmp_path / "runs").run_dirs() if r.meta()["command"][0] == "sh")
    assert not (run.path / "hook.json").exists() and "hello" in run.log_path.read_text()


def test_a_script_runs_record_describes_the_script_not_the_built_in_trainer(tmp_path: Path) -> None:
    done = memtui(tmp_path, "run", "--headless", "--json", "--memory-growth", "--mixed-precision", "--grad-accum",
                  "2", "--", PY, STAND_IN, plan={"steps": 2})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    (start,) = [r for r in records(done) if r["type"] == "start"]
    config = start["config"]
    assert config["kind"] == "script" and config["command"] == [PY, STAND_IN] and config["workdir"] == str(tmp_path)
    assert not {"image_size", "epochs", "data", "learning_rate"} & set(config), "the built-in trainer's fields"
    assert config["model"] is None and config["batch_size"] is None, "not known before the script's fit()"
    assert config["backend"] is None, "the script's own KERAS_BACKEND is seen in its run_start"
    assert config["in_force"] == ["memory growth", "mixed precision", "accumulate ×2"]

    env = {**os.environ, "MEMTUI_RUNS_DIR": str(tmp_path / "runs")}
    listed = subprocess.run([PY, "-m", "tui.cli", "runs"], capture_output=True, text=True, env=env, timeout=60)
    (line,) = [ln for ln in listed.stdout.splitlines() if start["run_id"] in ln]
    assert f"$ {PY} {STAND_IN}  (on TensorFlow; in force: memory growth, mixed precision, accumulate ×2)" in line
    as_json = subprocess.run([PY, "-m", "tui.cli", "runs", "--json"], capture_output=True, text=True, env=env,
                             timeout=60)
    (summary,) = [json.loads(ln) for ln in as_json.stdout.splitlines()]
    assert summary["command"] == f"{PY} {STAND_IN}" and summary["backend"] == "tensorflow"
    assert summary["in_force"] == ["memory growth", "mixed precision", "accumulate ×2"]
