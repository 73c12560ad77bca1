"""Headless mode: the outcome as exit code, readable lines, the JSON story, signals.

The stand-in trainer (a real subprocess on the real protocol) plays the run.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from trainer.config import RunConfig
from tui.session import headless as headless_mod
from tui.session.headless import run_headless
from tui.session.recovery import Recovery

REPO = Path(__file__).resolve().parents[2]
STEP_LINE = re.compile(r"epoch (\d+) step (\d+)/")



def headless(tmp_path: Path, config: RunConfig, **flags: Any) -> tuple[int, str]:
    out = io.StringIO()
    recovery = Recovery(bool(flags.get("auto_recover")), min_batch=flags.get("min_batch", 1),
                        max_attempts=flags.get("max_attempts", 8))
    code = run_headless(config, recovery, tmp_path / "runs", as_json=bool(flags.get("json")), stream=out)
    return code, out.getvalue()


QUICK = RunConfig(epochs=2, steps_per_epoch=3, image_size=32)


@pytest.mark.parametrize(
    ("keys", "code"),
    [
        ({}, 0),
        ({"end": "oom", "end_at_step": 2}, 3),
        ({"end": "crash", "end_at_step": 2}, 4),
        ({"end": "exit", "exit_code": 2, "end_at_step": 1}, 2),
        ({"end": "sigkill", "end_at_step": 2}, 4),
    ],
    ids=["finished", "out-of-memory", "crashed", "bad-input", "killed"],
)
def test_the_exit_code_is_the_outcome(script, tmp_path: Path, keys: dict[str, Any], code: int) -> None:
    script(rate=100, **keys)
    assert headless(tmp_path, QUICK)[0] == code


def test_readable_lines_tell_the_story_of_a_recovered_run(script, tmp_path: Path) -> None:
    script(rate=100, oom_above_batch=16)
    code, text = headless(tmp_path, QUICK.replace(batch_size=32), auto_recover=True)

    lines = text.splitlines()
    assert code == 0
    assert lines[0].startswith("memtui: estimate: peak ≈ ")  # the pre-flight check comes first
    assert lines[1].startswith("[attempt 1] start run ")
    assert "model small, 32 px, batch 32, 2 epochs × 3 steps" in lines[1]
    assert any(line.startswith("[attempt 1] ended: ") for line in lines)
    relaunch = next(line for line in lines if "relaunch:" in line)
    assert relaunch.startswith("[attempt 2] relaunch: ") and "memory growth" in relaunch
    assert any("epoch 1 done" in line for line in lines)
    assert lines[-1].startswith("outcome: finished after ") and lines[-1].endswith("exit code 0)")


class SteppedClock:
    """A monotonic clock that moves a quarter second each time it is read."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        self.now += 0.25
        return self.now

    def __getattr__(self, name: str) -> Any:  # the rest of the time module: the real one
        return getattr(time, name)


def test_step_lines_come_at_most_once_a_second(script, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The clock headless mode spaces its step lines by is read once per step: a
    # quarter second a step, so a line every fourth step, whatever the machine's load.
    monkeypatch.setattr(headless_mod, "time", SteppedClock())
    script(rate=400)
    code, text = headless(tmp_path, RunConfig(epochs=2, steps_per_epoch=300))

    step_lines = [line for line in text.splitlines() if " step " in line and ": loss " in line]
    epoch_lines = [line for line in text.splitlines() if " done: " in line]
    (events_file,) = (tmp_path / "runs").glob("*/events.jsonl")
    epochs_written = events_file.read_text().count('"type":"epoch"')
    assert code == 0
    shown = [(int(m.group(1)), int(m.group(2))) for m in map(STEP_LINE.search, step_lines) if m]
    assert len(shown) == len(step_lines)
    assert shown == [(1 + i // 300, 1 + i % 300) for i in range(0, 600, 4)], "600 steps, one line a second at most"
    assert epochs_written >= 1 and len(epoch_lines) == epochs_written, "every epoch has its line"


def test_json_lines_parse_into_one_story(script, tmp_path: Path) -> None:
    script(rate=100, oom_above_batch=16)
    code, text = headless(tmp_path, QUICK.replace(batch_size=32), auto_recover=True, json=True)

    records = [json.loads(line) for line in text.splitlines()]
    kinds = [r["type"] for r in records]
    assert code == 0
    assert kinds[:2] == ["estimate", "start"] and kinds[-1] == "outcome"
    assert kinds.index("verdict") < kinds.index("relaunch") < len(kinds) - 1 - kinds[::-1].index("start")
    events = [r["event"]["type"] for r in records if r["type"] == "event"]
    assert events.count("run_start") == events.count("run_end") == len([k for k in kinds if k == "start"])
    assert "oom" in events and events[-1] == "run_end"
    assert records[-1]["exit_code"] == 0 and records[-1]["status"] == "finished"


# --- signals: memtui itself is a subprocess here --------------------------------


def _spawn(tmp_path: Path, keys: dict[str, Any], *flags: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MEMTUI_TRAINER_MODULE": "tests.stand_in_trainer", "STAND_IN_SCRIPT": json.dumps(keys)}
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "run", "--headless", "--json", "--runs-dir", str(tmp_path / "runs"), *flags],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _read_until_step(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        record = json.loads(line)
        seen.append(record)
        if record["type"] == "event" and record["event"]["type"] == "step":
            return seen
    raise AssertionError(f"no step before the end; stderr: {proc.stderr.read() if proc.stderr else ''}")


def test_ctrl_c_stops_the_run_gracefully_and_exits_130(tmp_path: Path) -> None:
    proc = _spawn(tmp_path, {"rate": 20, "stop_delay": 0.2}, "--epochs", "1", "--steps-per-epoch", "400")
    _read_until_step(proc)
    proc.send_signal(signal.SIGINT)
    rest, _err = proc.communicate(timeout=60)

    records = [json.loads(line) for line in rest.splitlines()]
    assert proc.returncode == 130
    ends = [r["event"] for r in records if r["type"] == "event" and r["event"]["type"] == "run_end"]
    assert ends and ends[0]["status"] == "stopped", "the trainer saved and said goodbye"
    assert records[-1]["type"] == "outcome" and records[-1]["status"] == "stopped"


def test_sighup_does_not_end_the_run(tmp_path: Path) -> None:
    proc = _spawn(tmp_path, {"rate": 50}, "--epochs", "1", "--steps-per-epoch", "60")
    _read_until_step(proc)
    proc.send_signal(signal.SIGHUP)
    rest, _err = proc.communicate(timeout=60)

    records = [json.loads(line) for line in rest.splitlines()]
    assert proc.returncode == 0
    assert records[-1]["status"] == "finished"
    steps = [r for r in records if r["type"] == "event" and r["event"]["type"] == "step"]
    assert steps[-1]["event"]["step"] == 60


@pytest.mark.parametrize(("flag", "value"), [("min_batch", 0), ("max_attempts", 0)])
def test_bad_recovery_limits_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     flag: str, value: int) -> None:
    from tui.cli import main

    code = main(["run", "--headless", "--auto-recover", "--runs-dir", str(tmp_path / "runs"),
                 f"--{flag.replace('_', '-')}", str(value)])

    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"--{flag.replace('_', '-')} must be at least 1" in err
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("2*")), "nothing was launched"
