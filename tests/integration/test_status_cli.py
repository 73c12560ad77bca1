"""`memtui status`: the report, --json and --once, as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakegpu import fake_gpu, two_gpus


def memtui_status(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("MEMTUI_FAKE_NVML",)}
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "status", *args],
        capture_output=True, text=True, timeout=120, env={**base, **(env or {})},
    )


def meminfo() -> dict[str, int]:
    with open("/proc/meminfo") as handle:
        return {line.split(":")[0]: int(line.split()[1]) * 1024 for line in handle}


def test_json_on_this_cpu_only_host_reports_no_gpu_with_its_reason_and_true_host_memory(tmp_path: Path) -> None:
    done = memtui_status("--json", "--runs-dir", str(tmp_path))
    truth = meminfo()

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["gpus"] == []
    assert report["gpu_status"] == "no-driver"
    assert "libnvidia-ml.so.1" in report["gpu_message"]
    assert report["host"]["total_bytes"] == pytest.approx(truth["MemTotal"], rel=0.05)
    assert report["host"]["available_bytes"] == pytest.approx(truth["MemAvailable"], rel=0.05)
    assert report["trainer"] is None


def test_once_is_one_short_line_for_a_tmux_status_bar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = fake_gpu(tmp_path, two_gpus(), monkeypatch)
    done = memtui_status("--once", "--runs-dir", str(tmp_path), env=gpu.env)

    assert done.returncode == 0, done.stderr
    line = done.stdout.rstrip("\n")
    assert "\n" not in line and len(line) <= 80
    assert line.startswith("GPU0 14.0/24.0G · GPU1 0.0/24.0G · host ")


def test_once_without_a_gpu_says_so(tmp_path: Path) -> None:
    done = memtui_status("--once", "--runs-dir", str(tmp_path))

    assert done.stdout.startswith("no GPU · host ")


def test_report_names_every_device_and_a_gpu_lost_in_another_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gpu = fake_gpu(tmp_path, two_gpus(), monkeypatch)
    before = memtui_status("--runs-dir", str(tmp_path), env=gpu.env)
    gpu.update(lost=1)
    after = memtui_status("--runs-dir", str(tmp_path), env=gpu.env)

    assert "GPU 0   NVIDIA A10G  14.0/24.0G used (58%)" in before.stdout
    assert "GPU 1   NVIDIA A10G  0.0/24.0G used" in before.stdout
    assert "utilisation 87%" in before.stdout
    assert "GPU 1 is lost" in after.stdout and "GPU 0   NVIDIA A10G  14.0/24.0G" in after.stdout
    assert "Host    RAM " in after.stdout
    assert after.stderr == ""


@pytest.mark.parametrize("bad", [["--json", "--once"], ["--frobnicate"]])
def test_bad_flags_give_one_line_and_exit_2(bad: list[str]) -> None:
    done = memtui_status(*bad)

    assert done.returncode == 2
    assert done.stdout == "" and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
