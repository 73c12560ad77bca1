"""Unmodified user scripts report through the protocol: real TensorFlow, real
subprocesses, tiny data."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripthook_run import json_stdout, run_script, steps, user_env
from tinydata import make_image_folder

pytestmark = pytest.mark.tf


def test_numpy_arrays_with_validation_split_report_start_steps_epochs_and_end(tmp_path: Path) -> None:
    after = tmp_path / "after.txt"
    run = run_script(tmp_path, "mnist_arrays.py", "--epochs", "2", "--after", str(after))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines()[-1] == "trained" and after.exists()
    events = run.events
    assert events[0]["type"] == "run_start" and events[-1]["type"] == "run_end"
    start = run.one("run_start")
    assert start["model"] == "mnist_convnet" and start["params"] == 1370
    assert start["optimizer"] == "Adam" and start["batch_size"] == 32 and start["batch_control"] == "arrays"
    assert start["input"] == "arrays" and start["steps_in_epoch"] == 5 and start["phase"] == 1
    assert start["backend"] == "tensorflow" and start["keras_version"].startswith("3.")
    assert start["tf_version"].startswith("2.") and start["devices"]
    assert start["dtype_policy"] == "float32" and start["grad_accum"] == 1
    last = steps(run)[-1]
    assert (last["epoch"], last["step"], last["global_step"]) == (2, 5, 10)
    assert set(last["metrics"]) == {"loss", "accuracy"} and last["accuracy"] == last["metrics"]["accuracy"]
    assert last["batch_size"] == 32 and last["examples_per_second"] > 0
    assert last["memory"]["cpu_rss"] > 0 and last["memory"]["cpu_rss_peak"] >= last["memory"]["cpu_rss"]
    epochs = run.of("epoch")
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert {"val_loss", "val_accuracy", "loss", "accuracy"} <= set(epochs[-1]["metrics"])
    end = run.one("run_end")
    assert end["status"] == "finished" and end["steps"] == 10 and end["hook_errors"] == []
    assert run.hook_lines() == []
    assert "Epoch 2/2" in run.stdout and "memtui" not in run.stdout  # the script's stdout is its own


def test_a_tf_data_pipeline_batched_in_the_script_reports_its_batch(tmp_path: Path) -> None:
    run = run_script(tmp_path, "tfdata_pipeline.py")
    assert run.returncode == 0, run.stderr[-3000:]
    start = run.one("run_start")
    assert start["input"] == "tf.data" and start["batch_size"] == 20 and start["batch_control"] == "rebatch"
    assert start["steps_in_epoch"] == 10
    assert steps(run)[-1]["global_step"] == 10
    assert "val_loss" in run.one("epoch")["metrics"]
    assert run.one("run_end")["status"] == "finished"


def test_image_dataset_from_directory_with_augmentation_and_jit_compile(tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "images", classes=3, per_class=8, size=16)
    run = run_script(tmp_path, "image_folder_augment.py", str(folder))
    assert run.returncode == 0, run.stderr[-3000:]
    start = run.one("run_start")
    assert start["jit_compile"] is True and start["input"] == "tf.data"
    assert start["batch_size"] == 8 and start["steps_in_epoch"] == 3
    assert [s["step"] for s in steps(run)][-1] == 3
    assert "val_accuracy" in run.one("epoch")["metrics"]
    assert run.one("run_end")["status"] == "finished"


def test_a_model_subclass_with_its_own_train_step_reports_its_metrics(tmp_path: Path) -> None:
    run = run_script(tmp_path, "custom_train_step.py")
    assert run.returncode == 0, run.stderr[-3000:]
    start = run.one("run_start")
    assert start["model_class"] == "CustomModel" and start["params"] == 9
    last = steps(run)[-1]
    assert set(last["metrics"]) == {"loss", "mae"} and last["loss"] is not None
    assert last["global_step"] == 6
    assert [e["epoch"] for e in run.of("epoch")] == [1, 2]


def test_two_fit_calls_are_two_phases_of_one_run(tmp_path: Path) -> None:
    run = run_script(tmp_path, "two_phases.py")
    assert run.returncode == 0, run.stderr[-3000:]
    types = [(e["type"], e.get("phase")) for e in run.events if e["type"] != "step"]
    assert types == [("run_start", 1), ("epoch", 1), ("run_end", 1), ("run_start", 2), ("epoch", 2), ("run_end", 2)]
    first, second = run.of("run_start")
    assert (first["batch_size"], second["batch_size"]) == (32, 64)
    assert (first["steps_in_epoch"], second["steps_in_epoch"]) == (4, 2)
    assert first["params"] == second["params"]
    assert [s["global_step"] for s in steps(run)][-1] == 6  # counted over both phases
    assert [e["steps"] for e in run.of("run_end")] == [4, 6]
    assert [e["phase_steps"] for e in run.of("run_end")] == [4, 2]


def test_the_scripts_own_callbacks_run_and_are_not_mutated(tmp_path: Path) -> None:
    run = run_script(tmp_path, "own_callbacks.py")
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json_stdout(run)
    assert seen["first"] == {"batches": 6, "epochs": 2, "callbacks": 2}  # positional callbacks list
    assert seen["second"] == {"batches": 3, "list": 2}  # its CallbackList: its counter and its History
    assert [e["phase"] for e in run.of("run_end")] == [1, 2]
    assert [e["status"] for e in run.of("run_end")] == ["finished", "finished"]
    assert steps(run, phase=2)[-1]["step"] == 3


def test_sys_exit_after_training_keeps_its_exit_code_and_events(tmp_path: Path) -> None:
    run = run_script(tmp_path, "exits_after_training.py")
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.one("run_end")["status"] == "finished"
    assert steps(run)[-1]["global_step"] == 2


def test_a_gradient_tape_loop_without_fit_runs_as_before_and_its_steps_are_counted(tmp_path: Path) -> None:
    """No fit(): the steps come from the optimizer's updates (8 = 2 epochs of 4 batches)."""
    bare = run_script(tmp_path / "bare", "gradient_tape_loop.py", env=user_env())
    run = run_script(tmp_path, "gradient_tape_loop.py")
    assert run.returncode == bare.returncode == 0, run.stderr[-3000:]
    # The model is not seeded: the losses differ from run to run, the lines do not.
    assert [line.split(" loss ")[0] for line in run.stdout.splitlines()] == \
        [line.split(" loss ")[0] for line in bare.stdout.splitlines()]
    assert run.stdout.splitlines()[-1] == "trained"
    start = run.one("run_start")
    assert start["input"] == "loop" and start["phase"] == 1 and start["steps_in_epoch"] is None
    assert any("counted from the optimizer's updates" in n for n in start["notes"])
    assert steps(run)[-1]["global_step"] == 8 and steps(run)[-1]["step_seconds"] > 0
    assert steps(run)[-1]["loss"] is None and steps(run)[-1]["loss_seen"] is False, "a printed loss is not read"
    end = run.one("run_end")
    assert end["status"] == "finished" and end["steps"] == 8 and run.events[-1] == end
    assert run.hook_lines() == []


def test_a_loop_says_which_remedies_it_cannot_take_from_outside(tmp_path: Path) -> None:
    """Accumulation and the XLA switch go through compile()/fit(), which a loop does not call;
    the batch only through {batch_size} in the command. Each is said, none pretended."""
    run = run_script(tmp_path, "gradient_tape_loop.py", batch_size=16, grad_accum=2, jit_compile=False)
    assert run.returncode == 0, run.stderr[-3000:]
    refused = {r["change"]: r for r in run.one("run_start")["not_applied"]}
    assert set(refused) == {"batch", "grad-accum", "jit-compile"} and all(r["asked"] for r in refused.values())
    assert "compile()" in refused["grad-accum"]["why"] and "jax.jit" in refused["jit-compile"]["why"]
    assert steps(run)[-1]["global_step"] == 8


def test_a_crashing_script_fails_exactly_as_without_the_hook(tmp_path: Path) -> None:
    hooked = run_script(tmp_path, "crashing.py")
    bare = run_script(tmp_path, "crashing.py", env=user_env())
    assert hooked.returncode == bare.returncode == 1
    tail = hooked.stderr.strip().splitlines()[-1]
    assert tail == "NameError: name 'x_train' is not defined" == bare.stderr.strip().splitlines()[-1]
    assert 'crashing.py", line 7, in <module>' in hooked.stderr
    assert hooked.events == [] and hooked.hook_lines() == []


def test_a_pydataset_with_worker_processes_reports_once_from_the_fitting_process(tmp_path: Path) -> None:
    run = run_script(tmp_path, "pydataset_workers.py")
    assert run.returncode == 0, run.stderr[-3000:]
    start = run.one("run_start")
    assert start["input"] == "PyDataset" and start["batch_control"] is None and start["batch_size"] is None
    assert start["steps_in_epoch"] == 6
    last = steps(run)[-1]
    assert last["global_step"] == 12 and last["batch_size"] == 0 and last["examples_per_second"] == 0.0
    assert [e["epoch"] for e in run.of("epoch")] == [1, 2]
    assert run.one("run_end")["status"] == "finished"
    assert run.hook_lines() == []
