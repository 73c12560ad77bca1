"""Automatic recovery, driven end to end through headless mode with the stand-in trainer.

The stand-in is a real subprocess speaking the real protocol; `oom_above_batch`
makes it run out of memory (a device OOM, as TensorFlow words it) whenever the
batch is above a threshold, so the ladder can be watched climbing.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from trainer.config import RunConfig
from tui.common.verdict import OOM_KINDS
from tui.session.headless import run_headless
from tui.session.recovery import Recovery


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Run headless on the stand-in trainer with `script`; return (exit code, JSON records)."""
    monkeypatch.setenv("MEMTUI_TRAINER_MODULE", "tests.stand_in_trainer")

    def run(script: dict[str, Any], config: RunConfig, **flags: Any) -> tuple[int, list[dict[str, Any]]]:
        monkeypatch.setenv("STAND_IN_SCRIPT", json.dumps(script))
        out = io.StringIO()
        recovery = Recovery(bool(flags.get("auto_recover")), min_batch=flags.get("min_batch", 1),
                            max_attempts=flags.get("max_attempts", 8))
        code = run_headless(config, recovery, tmp_path / "runs", as_json=True, stream=out)
        return code, [json.loads(line) for line in out.getvalue().splitlines()]

    return run


def _of(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r["type"] == kind]


QUICK = RunConfig(epochs=1, steps_per_epoch=2, image_size=32)


def test_the_ladder_is_climbed_in_order_until_the_batch_fits(stand_in) -> None:
    code, records = stand_in({"oom_above_batch": 8, "rate": 200}, QUICK.replace(batch_size=32, model="large"),
                             auto_recover=True)

    assert code == 0
    rungs = [r["rung"] for r in _of(records, "relaunch")]
    assert rungs == ["memory-growth", "halve-batch-accum", "mixed-precision", "small-model", "halve-batch"]
    starts = _of(records, "start")
    assert [s["config"]["batch_size"] for s in starts] == [32, 32, 16, 16, 16, 8]
    # Halving kept the effective batch: 16 x 2 examples per update.
    assert starts[2]["config"]["grad_accum"] == 2
    assert _of(records, "outcome")[0]["status"] == "finished"
    assert len(_of(records, "outcome")[0]["recovery"]) == 5


def test_every_attempt_shares_one_backup_folder_so_a_relaunch_can_resume(stand_in) -> None:
    _code, records = stand_in({"oom_above_batch": 16, "rate": 200}, QUICK.replace(batch_size=32), auto_recover=True)

    backups = {s["config"]["backup_dir"] for s in _of(records, "start")}
    assert len(_of(records, "start")) > 1
    assert len(backups) == 1 and None not in backups


def test_when_the_ladder_runs_out_recovery_gives_up_in_one_plain_sentence(stand_in) -> None:
    code, records = stand_in({"oom_above_batch": 0, "rate": 200}, QUICK.replace(batch_size=16),
                             auto_recover=True, min_batch=4)

    assert code == 3
    gave_up = _of(records, "gave_up")[0]["message"]
    assert gave_up.startswith("Gave up after ")
    assert "--min-batch 4" in gave_up and "every remedy on the ladder was tried" in gave_up
    last = _of(records, "start")[-1]["config"]
    assert last["batch_size"] == 4
    # Nothing ran twice: each attempt's config is new.
    configs = [json.dumps({**s["config"], "backup_dir": None}, sort_keys=True) for s in _of(records, "start")]
    assert len(configs) == len(set(configs))


def test_max_attempts_bounds_the_relaunches(stand_in) -> None:
    code, records = stand_in({"oom_above_batch": 0, "rate": 200}, QUICK.replace(batch_size=64),
                             auto_recover=True, max_attempts=2)

    assert code == 3
    assert len(_of(records, "start")) == 2
    assert "--max-attempts 2" in _of(records, "gave_up")[0]["message"]


def test_without_auto_recover_an_oom_is_the_outcome(stand_in) -> None:
    code, records = stand_in({"oom_above_batch": 8}, QUICK.replace(batch_size=32))

    assert code == 3
    assert len(_of(records, "start")) == 1
    assert _of(records, "verdict")[0]["verdict"]["kind"] in OOM_KINDS
    assert _of(records, "gave_up") == [], "recovery was off, so it did not give up: it never started"


def test_a_crash_is_not_retried_even_with_auto_recover(stand_in) -> None:
    code, records = stand_in({"end": "crash", "end_at_step": 1}, QUICK, auto_recover=True)

    assert code == 4
    assert len(_of(records, "start")) == 1
    assert _of(records, "verdict")[0]["verdict"]["kind"] == "crash"
