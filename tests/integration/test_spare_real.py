"""The warm spare with the real trainer and TensorFlow on tiny data (CPU).

A relaunch handed to the spare must train with its own settings really in force
(growth, precision, batch, accumulation as run_start reports them), the spare
must not have initialised a device while it waited, and a real out-of-memory
ending under a host limit must be recovered through it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.supervision import Collector
from tests.tinydata import make_image_folder, read_events
from tests.waiting import wait_until
from trainer.config import RunConfig
from tui.runs.store import RunStore
from tui.supervision.supervisor import Supervisor

pytestmark = pytest.mark.tf

WAIT = 240.0  # two shared CPUs, TensorFlow imports of several seconds


def run_start(run_dir: Path) -> dict:
    _, events = read_events(run_dir)
    return next(e for e in events if e.get("type") == "run_start")


def test_a_relaunch_through_the_spare_trains_with_its_new_settings(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data", classes=2, per_class=4, size=16)
    store = RunStore(tmp_path / "runs")
    sink = Collector()
    sup = Supervisor(store, sink=sink)
    base = RunConfig(data=str(data), image_size=16, batch_size=8, epochs=1, steps_per_epoch=2)
    try:
        first = sup.launch(base)
        assert sink.wait_ended(first.run_id, timeout=WAIT).verdict.kind == "finished"
        spare = wait_until(lambda: sup.spare, timeout=WAIT, what="a spare")
        assert spare.wait_ready(WAIT)
        assert spare.info["devices_initialised"] is False, "the waiting spare touched no device"
        assert spare.rss() > 100 * 2**20, "TensorFlow is imported in it"

        relaunch = base.replace(batch_size=4, grad_accum=2, memory_growth=True, mixed_precision=True)
        second = sup.launch(relaunch, "halve-batch")
        ended = sink.wait_ended(second.run_id, timeout=WAIT)

        assert second.spare, second.cold_reason
        assert ended.verdict.kind == "finished", ended.verdict.summary
        start = run_start(second.run_dir)
        assert start["pid"] == spare.trainer_pid
        assert start["config"]["batch_size"] == 4 and start["effective_batch"] == 8
        assert start["optimizer"]["gradient_accumulation_steps"] == 2
        assert start["dtype_policy"] == "mixed_float16" and start["output_dtype"] == "float32"
        assert start["memory_growth"] is True and start["env"]["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
        assert ended.attempt.steps == 2
        # The spare was replaced by a new one once the relaunch trained.
        new = wait_until(lambda: sup.spare, timeout=WAIT, what="a new spare")
        assert new.pid != spare.pid
        assert len(store.run_dirs()) == 2
    finally:
        sup.close()
