"""GPU telemetry on a fake NVML (hardware only): numbers, fallbacks and words for failures."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakegpu import GIB, MIB, fake_gpu, two_gpus
from tui.telemetry.reader import TelemetryReader
from tui.telemetry.snapshot import Snapshot

NOT_HERE = 99_999_999  # above any Linux pid_max: a pid from another pid namespace


@pytest.fixture
def trainer() -> Iterator[subprocess.Popen]:
    """A real local process standing in for the run's trainer."""
    proc = subprocess.Popen(["sleep", "600"])
    yield proc
    proc.kill()
    proc.wait()


def read(run_pid: int | None = None, baseline: Snapshot | None = None) -> Snapshot:
    reader = TelemetryReader()
    reader.set_run(run_pid, baseline)
    try:
        return reader.read()
    finally:
        reader.close()


def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **changes: Any) -> None:
    fake_gpu(tmp_path, {**two_gpus(), **changes}, monkeypatch)


# --- two GPUs, attributed by pid ----------------------------------------------------------------
def test_two_gpus_report_name_memory_and_utilisation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    machine(tmp_path, monkeypatch)
    snapshot = read()

    assert snapshot.gpu_status == "ok" and snapshot.gpu_message is None
    gpu0, gpu1 = snapshot.gpus
    assert (gpu0.index, gpu0.name, gpu0.total_bytes, gpu0.used_bytes) == (0, "NVIDIA A10G", 24 * GIB, 14 * GIB)
    assert gpu0.reserved_bytes == 400 * MIB
    assert gpu0.free_bytes == 24 * GIB - 14 * GIB - 400 * MIB
    assert gpu0.utilization_percent == 87
    assert (gpu1.used_bytes, gpu1.utilization_percent, gpu1.lost) == (0, 0, False)
    # No run is live: everything in use belongs to others.
    assert (gpu0.run_bytes, gpu0.other_bytes, gpu0.attribution) == (None, 14 * GIB, "none")


def test_the_runs_processes_are_told_apart_from_others_by_pid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trainer: subprocess.Popen
) -> None:
    fake_gpu(tmp_path, two_gpus(run_pids=(trainer.pid,), other_pids=(os.getpid(),)), monkeypatch)
    gpu0 = read(run_pid=trainer.pid).gpus[0]

    assert gpu0.attribution == "pid"
    assert (gpu0.run_bytes, gpu0.other_bytes) == (10 * GIB, 4 * GIB)
    run, other = gpu0.processes
    assert (run.pid, run.name, run.is_run, run.used_bytes) == (trainer.pid, "sleep", True, 10 * GIB)
    assert (other.pid, other.is_run, other.used_bytes) == (os.getpid(), False, 4 * GIB)
    assert other.user and other.user != "?"


# --- old drivers -------------------------------------------------------------------------------
def test_without_the_v2_memory_call_reserved_memory_counts_as_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine(tmp_path, monkeypatch, memory_v2=False)
    gpu0 = read().gpus[0]

    assert (gpu0.used_bytes, gpu0.reserved_bytes) == (14 * GIB + 400 * MIB, 0)
    assert gpu0.free_bytes == 24 * GIB - 14 * GIB - 400 * MIB


@pytest.mark.parametrize("api", ["v2", "v1"])
def test_older_process_calls_are_used_when_newer_ones_are_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trainer: subprocess.Popen, api: str
) -> None:
    fake_gpu(tmp_path, {**two_gpus(run_pids=(trainer.pid,)), "processes_api": api}, monkeypatch)
    gpu0 = read(run_pid=trainer.pid).gpus[0]

    assert [p.pid for p in gpu0.processes] == [trainer.pid]
    assert (gpu0.attribution, gpu0.run_bytes) == ("pid", 10 * GIB)


@pytest.mark.parametrize("api", ["missing", "not-supported"])
def test_without_process_calls_the_run_is_device_use_minus_the_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trainer: subprocess.Popen, api: str
) -> None:
    gpu = fake_gpu(tmp_path, {**two_gpus(), "processes_api": api}, monkeypatch)
    gpu.scenario["gpus"][0]["used"] = 4 * GIB
    gpu.write(gpu.scenario)
    reader = TelemetryReader()
    reader.take_baseline()  # 4 GiB in use before launch
    reader.set_run(trainer.pid)
    gpu.scenario["gpus"][0]["used"] = 14 * GIB
    gpu.write(gpu.scenario)

    gpu0 = reader.read().gpus[0]
    reader.close()

    assert gpu0.processes == ()
    assert (gpu0.attribution, gpu0.run_bytes, gpu0.other_bytes) == ("baseline", 10 * GIB, 4 * GIB)


def test_without_process_calls_or_baseline_the_share_is_unknown_not_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trainer: subprocess.Popen
) -> None:
    machine(tmp_path, monkeypatch, processes_api="missing")
    gpu0 = read(run_pid=trainer.pid).gpus[0]

    assert (gpu0.attribution, gpu0.run_bytes, gpu0.other_bytes) == ("none", None, None)
    assert gpu0.used_bytes == 14 * GIB


def test_processes_without_memory_are_listed_with_unknown_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trainer: subprocess.Popen
) -> None:
    scenario = two_gpus(run_pids=(trainer.pid,), other_pids=(os.getpid(),))
    for p in scenario["gpus"][0]["processes"]:
        p["used"] = None
    fake_gpu(tmp_path, scenario, monkeypatch)
    baseline = read()
    gpu0 = read(run_pid=trainer.pid, baseline=baseline).gpus[0]

    assert [(p.pid, p.used_bytes, p.is_run) for p in gpu0.processes] == [
        (trainer.pid, None, True), (os.getpid(), None, False)
    ]
    # The pids say whose processes they are; only the baseline can say how much (none grew here).
    assert (gpu0.attribution, gpu0.run_bytes) == ("baseline", 0)


# --- containers --------------------------------------------------------------------------------
def test_container_pids_are_matched_by_appearing_after_launch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trainer: subprocess.Popen
) -> None:
    gpu = fake_gpu(tmp_path, two_gpus(other_pids=(NOT_HERE,)), monkeypatch)
    reader = TelemetryReader()
    reader.take_baseline()
    reader.set_run(trainer.pid)
    gpu.scenario["gpus"][0]["processes"].append({"pid": NOT_HERE + 1, "used": 6 * GIB})
    gpu.scenario["gpus"][0]["used"] = 20 * GIB
    gpu.write(gpu.scenario)

    gpu0 = reader.read().gpus[0]
    reader.close()

    assert gpu0.attribution == "new-pids"
    assert (gpu0.run_bytes, gpu0.other_bytes) == (6 * GIB, 14 * GIB)
    assert [(p.pid, p.name, p.is_run) for p in gpu0.processes] == [(NOT_HERE, "?", False), (NOT_HERE + 1, "?", True)]


def test_container_that_lists_no_processes_falls_back_to_the_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trainer: subprocess.Popen
) -> None:
    gpu = fake_gpu(tmp_path, two_gpus(), monkeypatch)
    gpu.scenario["gpus"][0]["used"] = 1 * GIB
    gpu.write(gpu.scenario)
    reader = TelemetryReader()
    reader.take_baseline()
    reader.set_run(trainer.pid)
    gpu.scenario["gpus"][0]["used"] = 9 * GIB
    gpu.write(gpu.scenario)

    gpu0 = reader.read().gpus[0]
    reader.close()

    assert (gpu0.attribution, gpu0.run_bytes, gpu0.other_bytes) == ("baseline", 8 * GIB, 1 * GIB)


# --- NVML cannot start: words with the fix ----------------------------------------------------
@pytest.mark.parametrize(
    ("init_error", "status", "words"),
    [
        ("library-not-found", "no-driver", "libnvidia-ml.so.1 not found"),
        ("driver-not-loaded", "driver-not-loaded", "sudo modprobe nvidia"),
        ("version-mismatch", "version-mismatch", "reboot or reload the nvidia kernel module after a driver upgrade"),
        ("no-permission", "no-permission", "/dev/nvidia*"),
    ],
)
def test_nvml_start_failures_become_a_status_and_a_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, init_error: str, status: str, words: str
) -> None:
    machine(tmp_path, monkeypatch, init_error=init_error)
    snapshot = read()

    assert snapshot.gpus == ()
    assert snapshot.gpu_status == status
    assert snapshot.gpu_message is not None and words in snapshot.gpu_message
    assert snapshot.host.total_bytes > 0  # host memory is still there


# --- a GPU lost mid-run --------------------------------------------------------------------------
def test_a_gpu_lost_mid_run_is_marked_lost_and_the_other_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gpu = fake_gpu(tmp_path, two_gpus(), monkeypatch)
    reader = TelemetryReader()
    before = reader.read()
    gpu.update(lost=0)
    gpu.scenario["gpus"][1]["used"] = 3 * GIB
    gpu.write(gpu.scenario)

    after = reader.read()
    reader.close()

    assert not before.gpus[0].lost
    lost, alive = after.gpus
    assert lost.lost and lost.problem is not None and "lost" in lost.problem
    assert (lost.run_bytes, lost.other_bytes) == (None, None)
    assert after.gpu_status == "ok"
    assert (alive.lost, alive.used_bytes, alive.name) == (False, 3 * GIB, "NVIDIA A10G")
