"""Automatic recovery from a real out-of-memory error of the real trainer on CPU.

The OOM is genuine: the trainer's address-space limit (--host-memory-limit)
denies TensorFlow the activations of a batch far too large (the recipe in
tests/tinydata.py). Each attempt is a fresh trainer process; the batches that
fail, fail within their first step, so the whole ladder costs a few launches.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.tinydata import OOM_BATCH, OOM_IMAGE_SIZE, OOM_LIMIT_MB, make_image_folder
from trainer.config import RunConfig
from tui.common.verdict import HOST_OOM
from tui.remedies.ladder import LADDER
from tui.runs.store import RunStore
from tui.session.headless import run_headless
from tui.session.recovery import Recovery

pytestmark = pytest.mark.tf


def test_a_real_host_oom_is_recovered_and_the_history_shows_each_rung(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data", classes=3, per_class=6, size=OOM_IMAGE_SIZE)
    config = RunConfig(data=str(data), image_size=OOM_IMAGE_SIZE, batch_size=OOM_BATCH, epochs=1,
                       steps_per_epoch=2, host_memory_limit=OOM_LIMIT_MB)
    out = io.StringIO()
    code = run_headless(config, Recovery(True), tmp_path / "runs", as_json=True, stream=out)

    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert code == 0, out.getvalue()[-3000:]
    runs = sorted(RunStore(tmp_path / "runs").run_dirs(), key=lambda r: r.meta()["attempt"])
    assert len(runs) >= 2
    first = runs[0].verdict()
    assert first is not None and first.kind == HOST_OOM, "a real host OOM, named as such"
    # The history: every attempt after the first records the rung that made it.
    relaunches = [r for r in records if r["type"] == "relaunch"]
    assert [run.meta()["reason"] for run in runs[1:]] == [r["reason"] for r in relaunches]
    rungs = [r["rung"] for r in relaunches]
    assert rungs[0] == "halve-batch-accum", "host OOM skips memory growth, a GPU-only remedy"
    assert [LADDER.index(r) for r in rungs] == sorted(LADDER.index(r) for r in rungs), "the ladder is climbed in order"
    for run in runs[:-1]:
        verdict = run.verdict()
        assert verdict is not None and verdict.is_oom
    last = runs[-1]
    assert last.summary.state == "finished"
    assert last.config().batch_size < OOM_BATCH
    assert runs[1].config().effective_batch == OOM_BATCH, "the first halving kept the effective batch"
    assert len({run.config().backup_dir for run in runs}) == 1, "one backup folder for the whole chain"
