"""Does a waiting spare slow the run beside it? Steps per second with and without.

The same real training run (tiny images, small model, CPU) is launched twice,
once with --no-spare and once with the warm spare, alternating which goes
first. With the spare, the rate is measured only once the spare is ready and
waiting (its import is start-up work, not what this measures). The rate comes
from the trainer's own step times. Also printed: the spare's resident memory
(reaper + trainer with TensorFlow imported), the figure for the README.

    .venv/bin/python bench/spare_overhead.py [--steps 2000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.tinydata import make_image_folder  # noqa: E402
from trainer.config import RunConfig  # noqa: E402
from trainer.protocol import Step  # noqa: E402
from tui.runs.store import RunStore  # noqa: E402
from tui.supervision.attempt import AttemptEnded, EventBatch, Notice  # noqa: E402
from tui.supervision.supervisor import Supervisor  # noqa: E402

TIMEOUT = 600.0


def rate(store: RunStore, config: RunConfig, spare: bool) -> tuple[float, int | None]:
    """Steps per second once warmed up (and, with a spare, once it waits); the spare's RSS."""
    notices: queue.Queue[Notice] = queue.Queue()
    sup = Supervisor(store, sink=notices.put, spare=spare)
    times: list[float] = []
    rss = None
    try:
        info = sup.launch(config, "bench")
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            notice = notices.get(timeout=TIMEOUT)
            if isinstance(notice, EventBatch) and notice.attempt.run_id == info.run_id:
                steps = [e for e in notice.events if isinstance(e, Step)]
                waiting = not spare or (sup.spare is not None and sup.spare.ready.is_set())
                if waiting and steps:
                    if spare and rss is None and sup.spare is not None:
                        rss = sup.spare.rss()
                    times.extend(s.t for s in steps)
            elif isinstance(notice, AttemptEnded) and notice.attempt.run_id == info.run_id:
                break
    finally:
        sup.close()
    times = times[10:]  # skip the first steps after the spare got ready
    if len(times) < 20:
        raise SystemExit(f"bench: only {len(times)} steps measured; raise --steps")
    return (len(times) - 1) / (times[-1] - times[0]), rss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2)
    ns = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="memtui-bench-") as tmp:
        data = make_image_folder(Path(tmp) / "data", classes=3, per_class=8, size=32)
        store = RunStore(Path(tmp) / "runs")
        config = RunConfig(data=str(data), image_size=32, batch_size=16, epochs=1, steps_per_epoch=ns.steps)
        with_spare: list[float] = []
        without: list[float] = []
        rss: list[int] = []
        for i in range(ns.repeat):
            for spare in ([True, False] if i % 2 == 0 else [False, True]):
                r, mem = rate(store, config, spare)
                (with_spare if spare else without).append(r)
                if mem:
                    rss.append(mem)
                print(f"round {i + 1} {'spare' if spare else 'no spare'}: {r:.1f} steps/s", flush=True)
    a, b = statistics.median(with_spare), statistics.median(without)
    print(f"\nsteps/s with a spare waiting {a:.1f}, without {b:.1f}: ratio {a / b:.3f} (goal >= 0.99)")
    if rss:
        mib = statistics.median(rss) / 2**20
        print(f"spare resident memory (reaper + trainer, TensorFlow imported): {mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
