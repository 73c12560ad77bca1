"""`memtui run --headless --json --auto-recover` with the real trainer under a
host memory limit that forces a real out-of-memory error: the JSON lines are
the whole story, and the exit code says it ended well."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tinydata import OOM_BATCH, OOM_IMAGE_SIZE, OOM_LIMIT_MB, make_image_folder
from tui.common.verdict import OOM_KINDS

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
