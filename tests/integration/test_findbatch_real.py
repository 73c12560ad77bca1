"""find-batch with the real trainer under a host memory limit on CPU.

The search's answer is checked against the truth, found the slow way: by
running the batches next to the answer directly with the trainer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tinydata import OOM_IMAGE_SIZE, OOM_LIMIT_MB, make_image_folder, run_trainer, trainer_env
from tui.cli import main

pytestmark = pytest.mark.tf

STEP = 128  # search in multiples of this: few probes, and "one search step" is one multiple
MAX_BATCH = 1024
# Exit codes a denied allocation produces: the trainer's OOM code, or the
# abort of std::bad_alloc (see tests/tinydata.py).
OOM_EXITS = {3, -6, 134}


def test_find_batch_lands_within_one_search_step_of_the_true_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = make_image_folder(tmp_path / "data", classes=3, per_class=6, size=OOM_IMAGE_SIZE)
    flags = ["--data", str(data), "--image-size", str(OOM_IMAGE_SIZE), "--host-memory-limit", str(OOM_LIMIT_MB)]

    code = main(["find-batch", "--runs-dir", str(tmp_path / "runs"), "--json", "--max-batch", str(MAX_BATCH),
                 "--multiple-of", str(STEP), "--ignore-data-bound", *flags])

    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0, records
    result = records[-1]
    found = result["largest"]
    assert found is not None and found % STEP == 0
    assert result["limited_by"] == "memory"
    # Grown from 128 (one multiple): ceil(log2(8 / 1)) + ceil(log2(gap <= 4)) + 1 probes at most.
    assert result["probes"] <= 6
    assert result["recommended"] == max(STEP, int(found * 0.9) // STEP * STEP)

    runs = iter(range(100))

    def fits(batch: int) -> bool:
        """One direct trainer run shaped like a probe (1 epoch of 2 steps)."""
        done = run_trainer(tmp_path / f"direct-{next(runs)}", *flags, "--batch-size", str(batch), "--epochs", "1",
                           "--steps-per-epoch", "2", env=trainer_env(tmp_path / "cache"))
        assert done.returncode == 0 or done.returncode in OOM_EXITS, done.stderr[-2000:]
        return done.returncode == 0

    # The true limit is within one step of the answer, whichever side it is on.
    if fits(found):
        if fits(found + STEP):
            assert not fits(found + 2 * STEP), f"{found + 2 * STEP} fits too: the search stopped two steps short"
    else:
        assert found - STEP >= STEP and fits(found - STEP), f"neither {found} nor {found - STEP} fits"
