"""Automatic recovery from a real out-of-memory error of the real trainer on CPU,
through `memtui run --headless --json --auto-recover`.

The OOM is genuine: the trainer's address-space limit (--host-memory-limit)
denies TensorFlow the activations of a batch far too large (the recipe in
tests/tinydata.py). Each attempt is a fresh trainer process, every relaunch
handed to the warm spare; the batches that fail, fail within their first step,
so the whole ladder costs a few launches. One run, read three ways: the JSON
lines are the whole story, the run folders the history of rungs, the spare's
part in each relaunch; and the exit code says it ended well. (One scenario,
once: it used to run three times, in three files, for the three readings.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tinydata import OOM_BATCH, OOM_IMAGE_SIZE, OOM_LIMIT_MB, make_image_folder
from tui.common.verdict import HOST_OOM, OOM_KINDS
from tui.remedies.ladder import LADDER
from tui.runs.store import RunStore

pytestmark = pytest.mark.tf
REPO = Path(__file__).resolve().parents[2]


def test_headless_auto_recover_tells_the_whole_story_in_json_and_exits_0(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data", classes=3, per_class=6, size=OOM_IMAGE_SIZE)
    env = {k: v for k, v in os.environ.items() if k != "MEMTUI_TRAINER_MODULE"}
    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", "run", "--headless", "--json", "--auto-recover",
         "--runs-dir", str(tmp_path / "runs"), "--data", str(data), "--image-size", str(OOM_IMAGE_SIZE),
         "--batch-size", str(OOM_BATCH), "--epochs", "1", "--steps-per-epoch", "2",
         "--host-memory-limit", str(OOM_LIMIT_MB)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )

    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    story = [r["type"] if r["type"] != "event" else r["event"]["type"] for r in records]
    # start, the trainer's own OOM event, the verdict, a relaunch ...
    assert story[:2] == ["estimate", "start"]
    assert story.index("run_start") < story.index("oom") < story.index("verdict") < story.index("relaunch")
    first_verdict = records[story.index("verdict")]
    assert first_verdict["verdict"]["kind"] in OOM_KINDS and first_verdict["exit_code"] != 0
    assert first_verdict["verdict"]["remedies"], "the verdict says what to try"
    # ... and the last attempt trains and finishes.
    last_start = len(story) - 1 - story[::-1].index("start")
    tail = story[last_start:]
    assert tail[:2] == ["start", "run_start"]
    assert story[last_start - 1] == "estimate"  # every launch is checked first
    assert "step" in tail and tail.index("step") < tail.index("run_end")
    assert tail[-2:] == ["verdict", "outcome"]
    assert records[-1]["status"] == "finished" and records[-1]["exit_code"] == 0
    starts = [r for r in records if r["type"] == "start"]
    relaunches = [r for r in records if r["type"] == "relaunch"]
    assert len(relaunches) == len(starts) - 1 == len(records[-1]["recovery"])
    assert [s["config"]["batch_size"] for s in starts[1:]] == [r["config"]["batch_size"] for r in relaunches]

    # The history in the run folders: every attempt after the first records the rung that made it.
    runs = sorted(RunStore(tmp_path / "runs").run_dirs(), key=lambda r: r.meta()["attempt"])
    assert len(runs) == len(starts) >= 2
    first = runs[0].verdict()
    assert first is not None and first.kind == HOST_OOM, "a real host OOM, named as such"
    assert [run.meta()["reason"] for run in runs[1:]] == [r["reason"] for r in relaunches]
    rungs = [r["rung"] for r in relaunches]
    assert rungs[0] == "halve-batch-accum", "host OOM skips memory growth, a GPU-only remedy"
    assert [LADDER.index(r) for r in rungs] == sorted(LADDER.index(r) for r in rungs), "the ladder is climbed in order"
    for run in runs[:-1]:
        verdict = run.verdict()
        assert verdict is not None and verdict.is_oom
    last = runs[-1]
    assert last.summary.state == "finished" and last.config().batch_size < OOM_BATCH
    assert last.config().host_memory_limit == OOM_LIMIT_MB
    assert runs[1].config().effective_batch == OOM_BATCH, "the first halving kept the effective batch"
    assert len({run.config().backup_dir for run in runs}) == 1, "one backup folder for the whole chain"
    # Every relaunch went through the warm spare, and none had to start cold.
    assert [r.meta().get("spare") for r in runs] == [False] + [True] * (len(runs) - 1), \
        [r.meta().get("cold_reason") for r in runs]
    assert not [r for r in records if r.get("type") == "problem" and "cold" in json.dumps(r)]
