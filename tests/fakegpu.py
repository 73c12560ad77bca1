"""A fake GPU machine for tests: the fake `pynvml` plus a scenario file.

    gpu = fake_gpu(tmp_path, two_gpus(), monkeypatch)   # this process now sees two GPUs
    subprocess.run([...], env={**os.environ, **gpu.env})  # and so does a child memtui
    gpu.update(lost=1)                                    # GPU 1 falls off the bus mid-run

Only the hardware is faked: memtui's own NVML reader, attribution and sampler run for real.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

FAKE_DIR = Path(__file__).resolve().parent / "fake_pynvml"
GIB = 1024**3
MIB = 1024**2


def two_gpus(run_pids: tuple[int, ...] = (), other_pids: tuple[int, ...] = ()) -> dict[str, Any]:
    """Two 24 GiB cards: GPU 0 busy (run 10 GiB + others 4 GiB), GPU 1 nearly idle."""
    procs0 = [{"pid": pid, "used": 10 * GIB // max(1, len(run_pids))} for pid in run_pids]
    procs0 += [{"pid": pid, "used": 4 * GIB // max(1, len(other_pids))} for pid in other_pids]
    return {
        "driver": "550.54.15",
        "gpus": [
            {"name": "NVIDIA A10G", "total": 24 * GIB, "used": 14 * GIB, "reserved": 400 * MIB, "util": 87,
             "processes": procs0},
            {"name": "NVIDIA A10G", "total": 24 * GIB, "used": 0, "reserved": 400 * MIB, "util": 0,
             "processes": []},
        ],
    }


@dataclass
class FakeGpu:
    path: Path
    scenario: dict[str, Any]

    @property
    def env(self) -> dict[str, str]:
        """Variables a subprocess needs to see the same fake machine."""
        pythonpath = os.pathsep.join(p for p in (str(FAKE_DIR), os.environ.get("PYTHONPATH", "")) if p)
        return {"MEMTUI_FAKE_NVML": str(self.path), "PYTHONPATH": pythonpath}

    def write(self, scenario: dict[str, Any]) -> None:
        self.scenario = copy.deepcopy(scenario)
        old = self.path.stat().st_mtime_ns if self.path.exists() else 0
        self.path.write_text(json.dumps(scenario), encoding="utf-8")
        # A rewrite within the file system's clock tick must still look changed to the fake.
        new = self.path.stat().st_mtime_ns
        if new <= old:
            os.utime(self.path, ns=(old + 1_000_000, old + 1_000_000))

    def update(self, lost: int | None = None, **changes: Any) -> None:
        """Change the machine: `lost=1` loses GPU 1; other keys replace top-level scenario keys."""
        scenario = copy.deepcopy(self.scenario)
        scenario.update(changes)
        if lost is not None:
            scenario["gpus"][lost]["lost"] = True
        self.write(scenario)


def load_fake_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pynvml", FAKE_DIR / "pynvml.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pynvml"] = module  # the error classes register themselves through sys.modules
    spec.loader.exec_module(module)
    return module


def fake_gpu(tmp_path: Path, scenario: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> FakeGpu:
    """Make this process (and children given `.env`) see the machine `scenario` describes."""
    gpu = FakeGpu(tmp_path / "fake_nvml.json", {})
    gpu.write(scenario)
    monkeypatch.setenv("MEMTUI_FAKE_NVML", str(gpu.path))
    monkeypatch.setitem(sys.modules, "pynvml", sys.modules.get("pynvml"))  # restored after the test
    load_fake_module()
    return gpu


@pytest.fixture
def fake_two_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeGpu:
    """A fake two-GPU machine, in this process and (through `.env`) in subprocesses."""
    return fake_gpu(tmp_path, two_gpus(), monkeypatch)
