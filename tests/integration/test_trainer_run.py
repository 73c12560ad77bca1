"""The real trainer in a real subprocess: data, remedies, events.

Each launch costs a TensorFlow import, so each test checks everything one
launch can show.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tinydata import MESSY_SKIPPED, make_messy_folder, run_trainer, trainer_env
from trainer.protocol import Epoch, ExitCode, Garbage, RunEnd, RunStart, Step, decode

pytestmark = pytest.mark.tf


def test_a_messy_folder_trains_to_the_end_skipping_only_the_undecodable_files(tmp_path: Path) -> None:
    data = make_messy_folder(tmp_path / "data", classes=2, per_class=8)
    result = run_trainer(
        tmp_path / "run", "--data", str(data), "--image-size", "16", "--batch-size", "2",
        "--epochs", "2", "--validation-split", "0.25",
        env=trainer_env(MEMTUI_TRAINER_PRINT="1"),
    )
    assert result.returncode == ExitCode.FINISHED, result.stderr[-3000:]

    # Every line is a valid event even though the model printed on every step.
    events = [decode(line) for line in result.lines]
    assert not [e for e in events if isinstance(e, Garbage)]
    assert result.stdout == ""
    assert "model says hello from a training step" in result.stderr

    start = next(e for e in events if isinstance(e, RunStart))
    # 2x8 PNGs + gray + RGBA + BMP decode; the corrupt JPEG and the text file do not.
    assert start.dataset["files"] == 2 * 8 + 3
    assert start.dataset["skipped"] == MESSY_SKIPPED
    assert start.dataset["classes"] == 2
    assert start.dataset["validation"] == 5
    assert start.params > 0 and start.tf_version and start.keras_version
    assert start.devices and start.memory_growth is False

    steps = [e for e in events if isinstance(e, Step)]
    epochs = [e for e in events if isinstance(e, Epoch)]
    end = events[-1]
    assert isinstance(end, RunEnd) and end.status == "finished"
    assert [e.epoch for e in epochs] == [1, 2]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(epochs[0].metrics)
    # Steps may be coalesced, but the last step of each epoch is always written.
    for epoch in (1, 2):  # the protocol counts epochs from 1
        last = [s for s in steps if s.epoch == epoch][-1]
        assert last.step == last.steps_in_epoch == 7  # ceil(14 training files / 2)
    assert steps[-1].raw["global_step"] == end.steps == 14
    assert steps[-1].memory["cpu_rss"] > 0 and end.peak_memory and end.peak_memory >= steps[-1].memory["cpu_rss"]
    assert all(s.batch_size == 2 and s.step_seconds > 0 and s.examples_per_second > 0 for s in steps)


def test_the_demo_with_every_single_device_remedy_applies_each_one(tmp_path: Path) -> None:
    result = run_trainer(
        tmp_path / "run", "--batch-size", "4", "--epochs", "1", "--steps-per-epoch", "6",
        "--mixed-precision", "--grad-accum", "3", "--memory-growth",
        env=trainer_env(cache=tmp_path / "cache"),
    )
    assert result.returncode == ExitCode.FINISHED, result.stderr[-3000:]
    start = result.one("run_start")
    # The demo: real image files in the cache, 10 classes, smaller images on a CPU-only host, said so.
    assert start["dataset"]["classes"] == 10 and start["dataset"]["skipped"] == 0
    assert list((tmp_path / "cache").rglob("*.png"))
    assert start["image_size"] == 64
    assert any("CPU-only" in note and "64x64" in note for note in start["notes"])
    assert "CPU-only" in result.stderr
    # Mixed precision: float16 compute, float32 output layer.
    assert start["dtype_policy"] == "mixed_float16" and start["output_dtype"] == "float32"
    # Accumulation: 6 micro-batches of 4 with k=3 apply 2 updates; effective batch 12.
    assert start["optimizer"]["gradient_accumulation_steps"] == 3 and start["effective_batch"] == 12
    end = result.one("run_end")
    assert end["steps"] == 6 and end["optimizer_iterations"] == 2
    # Memory growth is requested and exported for TensorFlow.
    assert start["memory_growth"] is True
    assert start["env"]["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"


def test_mirrored_strategy_over_two_logical_cpus_trains_with_two_replicas(tmp_path: Path) -> None:
    data = make_messy_folder(tmp_path / "data", classes=2, per_class=4)
    result = run_trainer(
        tmp_path / "run", "--data", str(data), "--image-size", "16", "--batch-size", "4",
        "--epochs", "1", "--steps-per-epoch", "2", "--strategy", "mirrored", "--cpu-devices", "2",
        "--gpu-memory-limit", "512",
    )
    assert result.returncode == ExitCode.FINISHED, result.stderr[-3000:]
    start = result.one("run_start")
    assert start["replicas"] == 2 and start["strategy"] == "mirrored"
    # A GPU cap on a host without GPUs is reported, not silently ignored.
    assert start["gpu_memory_limit"] is None
    assert any("no GPU" in note for note in start["notes"])
    assert result.one("run_end")["steps"] == 2
