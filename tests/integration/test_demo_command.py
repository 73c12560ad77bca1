"""`memtui demo oom`: a built-in run that really runs out of memory, then recovers.

The real test runs the real trainer (TensorFlow, marked tf) headless with
--auto-recover: attempt 1 must end out of memory under the address-space limit,
the next must fit and finish. The rest is pure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui.cli import main
from tui.kinds.oomdemo import CPU_LIMIT_MB, oom_scenario
from tui.runs.store import RunStore

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("argv", [["demo", "nope"], ["demo", "oom", "--json"]])
def test_bad_input_is_one_line_and_exit_2(capsys, argv: list[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("memtui demo: ") and err.count("\n") == 1, err


def test_a_missing_scenario_is_argparse_s_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["demo"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_the_cpu_scenario_limits_the_address_space_and_the_gpu_one_caps_the_gpu() -> None:
    cpu = oom_scenario(has_gpu=False, core_count=2).config
    assert cpu.host_memory_limit == CPU_LIMIT_MB and cpu.gpu_memory_limit is None
    assert oom_scenario(has_gpu=False, core_count=16).config.host_memory_limit > CPU_LIMIT_MB
    gpu = oom_scenario(has_gpu=True).config
    assert gpu.gpu_memory_limit is not None and gpu.host_memory_limit is None
    assert "press b" in oom_scenario(has_gpu=False).story


@pytest.mark.tf
def test_the_headless_demo_runs_out_of_memory_then_finishes(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MEMTUI_TRAINER_MODULE", None)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", "demo", "oom", "--headless", "--auto-recover", "--json",
         "--runs-dir", str(runs)],
        capture_output=True, text=True, env=env, timeout=180,
    )
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    verdicts = [r for r in records if r["type"] == "verdict"]
    assert verdicts[0]["verdict"]["kind"] == "host-oom", verdicts[0]
    assert verdicts[0]["verdict"]["remedies"][0]["key"] == "b", "halving the batch is the first remedy"
    assert verdicts[-1]["verdict"]["kind"] == "finished"
    ordered = sorted(RunStore(runs).run_dirs(), key=lambda r: r.meta()["attempt"])
    assert ordered[-1].config().batch_size < ordered[0].config().batch_size
    assert took < 120, f"the demo took {took:.0f} s"
