"""find-batch with warm-spare probes beside the same search with cold probes.

Two searches, each run twice side by side (spare, then cold, or the other way
round with --swap):

* the demo on this CPU-only host, no memory limit: the data bounds the batch
  (600 files, at least 4 steps per epoch: 150), so the search grows from the
  config's batch (32) to 150 and stops;
* under a host memory limit (the OOM recipe of tests/tinydata.py: 64 px,
  --host-memory-limit 3072), where memory bounds the batch; the data bound is
  off there because the tiny folder would cap the batch at 4.

Printed: probes, total time, mean time per probe, the answer, and the ratio
spare ÷ cold (goal: ≤ 0.5).

    .venv/bin/python bench/findbatch.py [--swap]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.tinydata import OOM_IMAGE_SIZE, OOM_LIMIT_MB, make_image_folder  # noqa: E402
from trainer.config import RunConfig  # noqa: E402
from tui.runs.store import RunStore  # noqa: E402
from tui.session.findbatch import FindResult, find_batch  # noqa: E402


@dataclass
class Timed:
    result: FindResult
    seconds: float


def timed(config: RunConfig, store: RunStore, spare: bool, **kw: object) -> Timed:
    started = time.monotonic()
    result = find_batch(config, store, spare=spare, **kw)  # type: ignore[arg-type]
    return Timed(result, time.monotonic() - started)


def row(name: str, t: Timed) -> str:
    r = t.result
    warm = sum(1 for p in r.probes if p.warm)
    return (f"  {name:6} {len(r.probes):3d} probes ({warm} warm) {t.seconds:7.1f} s "
            f"{t.seconds / max(1, len(r.probes)):6.1f} s/probe  largest {r.largest} ({r.limited_by}) "
            f"batches {[p.batch for p in r.probes]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--swap", action="store_true", help="run the cold search first")
    ns = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="memtui-bench-") as tmp:
        store = RunStore(Path(tmp) / "runs")
        data = make_image_folder(Path(tmp) / "data", classes=3, per_class=6, size=OOM_IMAGE_SIZE)
        searches = [
            ("demo, no memory limit", RunConfig(), {}),
            (f"{OOM_IMAGE_SIZE} px under --host-memory-limit {OOM_LIMIT_MB}",
             RunConfig(data=str(data), image_size=OOM_IMAGE_SIZE, batch_size=64, host_memory_limit=OOM_LIMIT_MB),
             {"max_batch": 4096, "multiple_of": 64, "respect_data": False}),
        ]
        for name, config, kw in searches:
            order = [False, True] if ns.swap else [True, False]
            out: dict[bool, Timed] = {}
            for spare in order:
                out[spare] = timed(config, store, spare, **kw)
            print(f"{name}:")
            print(row("spare", out[True]))
            print(row("cold", out[False]))
            print(f"  ratio time spare / cold {out[True].seconds / out[False].seconds:.2f} (goal <= 0.5)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
