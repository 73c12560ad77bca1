"""Each remedy memtui applies to an unmodified script, seen taking effect in
the events the script then reports (real TensorFlow, tiny data)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scripthook_run import SCRIPTS, hooked_env, run_and_interrupt, run_script, steps

from trainer.hookspec import fill_batch_placeholder

pytestmark = pytest.mark.tf
FAST = ("--sleep", "0.05", "--samples", "320")  # slow_steps.py at 10 steps of 50 ms an epoch


def test_batch_accumulation_mixed_precision_and_xla_off_on_an_arrays_script(tmp_path: Path) -> None:
    after = tmp_path / "after.txt"
    run = run_script(tmp_path, "mnist_arrays.py", "--jit", "--after", str(after),
                     batch_size=16, grad_accum=2, mixed_precision=True, jit_compile=False)
    assert run.returncode == 0, run.stderr[-3000:]
    start = run.one("run_start")
    assert start["batch_size"] == 16 and start["batch_control"] == "arrays" and start["steps_in_epoch"] == 9
    assert start["dtype_policy"] == "mixed_float16" and start["loss_scale"] is True
    assert start["grad_accum"] == 2 and start["optimizer"] == "Adam"
    assert start["jit_compile"] is False  # the script asked for jit_compile=True
    assert {s["batch_size"] for s in steps(run)} == {16}
    assert steps(run)[-1]["global_step"] == 9
    assert after.read_text() == "iterations=4\n"  # 9 micro-batches, an update every 2
    assert run.hook_lines() == []


def test_without_remedies_the_same_script_keeps_its_own_choices(tmp_path: Path) -> None:
    run = run_script(tmp_path, "mnist_arrays.py", "--jit", "--batch", "48")
    assert run.returncode == 0, run.stderr[-3000:]
    start = run.one("run_start")
    assert (start["batch_size"], start["dtype_policy"], start["grad_accum"], start["jit_compile"]) == (
        48, "float32", 1, True)


def test_a_batched_tf_data_pipeline_is_rebatched(tmp_path: Path) -> None:
    run = run_script(tmp_path, "tfdata_pipeline.py", "--epochs", "2", batch_size=10)
    assert run.returncode == 0, run.stderr[-3000:]
    start = run.one("run_start")
    assert start["batch_size"] == 10 and start["batch_control"] == "rebatch"
    assert start["steps_in_epoch"] is None  # rebatch() hides the dataset's length from Keras ...
    last = steps(run)[-1]
    assert last["global_step"] == 40 and last["batch_size"] == 10
    assert last["steps_in_epoch"] == 20  # ... so the first epoch tells it
    assert "val_loss" in run.of("epoch")[-1]["metrics"]


def test_the_batch_placeholder_in_the_command_is_reported_as_such(tmp_path: Path) -> None:
    argv, found = fill_batch_placeholder([str(SCRIPTS / "mnist_arrays.py"), "--batch", "{batch_size}"], 24)
    assert found
    run = run_script(tmp_path, *argv[0:1], *argv[1:], batch_size=24, batch_placeholder=True)
    assert run.returncode == 0, run.stderr[-3000:]
    start = run.one("run_start")
    assert start["batch_size"] == 24 and start["batch_control"] == "placeholder" and start["steps_in_epoch"] == 6


def test_probe_limits_cut_steps_and_epochs(tmp_path: Path) -> None:
    run = run_script(tmp_path, "mnist_arrays.py", "--epochs", "3", max_steps=2, max_epochs=1)
    assert run.returncode == 0, run.stderr[-3000:]
    assert [e["epoch"] for e in run.of("epoch")] == [1]
    assert steps(run)[-1]["global_step"] == 2


def test_gpu_remedies_on_a_cpu_host_say_what_they_could_not_do(tmp_path: Path) -> None:
    capped = run_script(tmp_path, "tfdata_pipeline.py", gpu_memory_limit=512)
    assert capped.returncode == 0, capped.stderr[-3000:]
    start = capped.one("run_start")
    assert "the GPU memory cap was asked for but not applied: no GPU found: the cap has nothing to act on" in \
        start["notes"]
    assert {"change": "gpu-cap", "asked": True, "phase": None, "why": "no GPU found: the cap has nothing to act on",
            "words": "the GPU memory cap was asked for but not applied: no GPU found: the cap has nothing to act on"} \
        in start["not_applied"]
    grown = run_script(tmp_path / "g", "tfdata_pipeline.py", memory_growth=True)
    assert grown.returncode == 0, grown.stderr[-3000:]
    assert grown.one("run_start")["memory_growth"] is True


def test_a_backup_folder_resumes_a_killed_script_at_its_last_finished_epoch(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    run_dir = tmp_path / "first" / "run"
    (tmp_path / "first").mkdir()
    env = hooked_env(run_dir, backup_dir=str(backup))
    proc = subprocess.Popen([sys.executable, str(SCRIPTS / "slow_steps.py"), *FAST], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        events = run_dir / "events.jsonl"
        while time.monotonic() < deadline and not (events.exists() and b'"type":"epoch"' in events.read_bytes()):
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)  # as the kernel's OOM killer would
    finally:
        proc.wait()
    second = run_script(tmp_path, "slow_steps.py", *FAST, backup_dir=str(backup))
    assert second.returncode == 0, second.stderr[-3000:]
    start = second.one("run_start")
    assert start["initial_epoch"] >= 1
    assert second.of("epoch")[0]["epoch"] == start["initial_epoch"] + 1
    assert second.of("epoch")[-1]["epoch"] == 5


def test_a_script_stopped_by_sigint_keeps_its_backup_and_resumes_from_it(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    first = run_and_interrupt(tmp_path / "first", "slow_steps.py", *FAST, after_steps=13, backup_dir=str(backup))
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.one("run_end")["status"] == "stopped"
    done = len(first.of("epoch"))
    assert done >= 1 and (backup / "phase-1").exists()
    second = run_script(tmp_path / "second", "slow_steps.py", *FAST, backup_dir=str(backup))
    assert second.returncode == 0, second.stderr[-3000:]
    start = second.one("run_start")
    assert start["initial_epoch"] == done  # the last finished epoch, not the one cut short
    assert second.of("epoch")[0]["epoch"] == done + 1
    assert not (backup / "phase-1").exists()  # a run to the end clears it, as Keras does
