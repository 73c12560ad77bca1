"""Recovery time: from a real out-of-memory error to the first step of the
relaunched run, against a cold start of that same relaunched config.

Measured from the OOM of the attempt just before the one that trains (with a
longer ladder, the whole climb from the first OOM is printed too). The ratio
is the headline: 1.0 means automatic recovery costs no more than
starting the fixed config by hand; anything above is time memtui adds
(waiting for the dead trainer, diagnosing, relaunching) and should go.

Run side by side in one go: recovery through the warm spare (the default,
tui/supervision/spare.py), the same recovery with --no-spare (every relaunch
cold), and a cold start with no spare beside it. Goal: spare recovery ÷ cold
start ≤ 0.4.

The OOM is real: the CPU recipe of tests/tinydata.py (a host address-space
limit; batch 1024 at 64 px under 3072 MB dies with std::bad_alloc, 4096 raises
ResourceExhaustedError). Recovery goes through tui.supervision.supervisor and
tui.session.recovery exactly as `memtui run --headless --auto-recover` does.

    .venv/bin/python bench/recovery.py [--batch 4096] [--repeat 1]
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.tinydata import OOM_IMAGE_SIZE, OOM_LIMIT_MB, make_image_folder  # noqa: E402
from trainer.config import RunConfig  # noqa: E402
from trainer.protocol import Oom, Step  # noqa: E402
from tui.runs.folder import RunDir  # noqa: E402
from tui.runs.store import RunStore  # noqa: E402
from tui.session.recovery import Recovery  # noqa: E402
from tui.supervision.attempt import AttemptEnded, EventBatch, Notice  # noqa: E402
from tui.supervision.supervisor import Supervisor  # noqa: E402

TIMEOUT = 600.0


@dataclass
class Recovered:
    oom: float  # the trainer's OOM event, or its death when it died without a word
    trainer_exit: float  # the reaper saw the trainer end
    noticed: float  # memtui had the verdict
    relaunched: float  # launch() returned
    first_step: float  # the relaunched trainer's first step
    attempts: int
    config: RunConfig
    first_oom: float  # the first attempt's OOM: the whole ladder runs from here
    warm: bool = False  # the attempt that trained was handed to the spare


def _next(notices: queue.Queue[Notice]) -> Notice:
    return notices.get(timeout=TIMEOUT)


def recover(store: RunStore, config: RunConfig, spare: bool = True) -> Recovered:
    """Run `config` with auto-recovery until an attempt takes its first step."""
    notices: queue.Queue[Notice] = queue.Queue()
    supervisor = Supervisor(store, sink=notices.put, spare=spare)
    recovery = Recovery(True)
    try:
        current = supervisor.launch(config, "bench: first launch")
        oom_t: float | None = None
        first_oom: float | None = None
        last: tuple[float, float, float, float] | None = None
        while True:
            notice = _next(notices)
            if isinstance(notice, EventBatch) and notice.attempt.run_id == current.run_id:
                for event in notice.events:
                    if isinstance(event, Oom):
                        oom_t = event.t
                    elif isinstance(event, Step) and last is not None:
                        supervisor.stop()
                        _wait_end(notices, current.run_id)
                        oom, died, noticed, relaunched = last
                        return Recovered(oom, died, noticed, relaunched, event.t, current.number,
                                         current.config or config, first_oom or oom, current.spare)
            elif isinstance(notice, AttemptEnded) and notice.attempt.run_id == current.run_id:
                noticed = time.time()
                exit_info = RunDir(notice.attempt.run_dir).exit_info() or {}
                died = float(exit_info.get("ended", noticed))
                change = recovery.on_end(notice.attempt, notice.verdict)
                if change is None:
                    raise SystemExit(f"bench: no relaunch after attempt {notice.attempt.number}: "
                                     f"{recovery.gave_up or notice.verdict.summary}")
                current = supervisor.launch(change.config, change.reason)
                print(f"  attempt {current.number}: {'warm' if current.spare else 'cold: ' + str(current.cold_reason)}",
                      flush=True)
                last = (oom_t if oom_t is not None else died, died, noticed, time.time())
                first_oom = first_oom or last[0]
                oom_t = None
    finally:
        supervisor.close()


def cold_start(store: RunStore, config: RunConfig) -> float:
    """Seconds from launch() to the first step of a fresh run of `config`."""
    notices: queue.Queue[Notice] = queue.Queue()
    supervisor = Supervisor(store, sink=notices.put, spare=False)  # nothing beside it competes for the CPU
    try:
        started = time.time()
        info = supervisor.launch(config.replace(backup_dir=None), "bench: cold start")
        while True:
            notice = _next(notices)
            if isinstance(notice, EventBatch) and notice.attempt.run_id == info.run_id:
                step = next((e for e in notice.events if isinstance(e, Step)), None)
                if step is not None:
                    supervisor.stop()
                    _wait_end(notices, info.run_id)
                    return step.t - started
            elif isinstance(notice, AttemptEnded) and notice.attempt.run_id == info.run_id:
                raise SystemExit(f"bench: the cold start ended before a step: {notice.verdict.summary}")
    finally:
        supervisor.close()


def _wait_end(notices: queue.Queue[Notice], run_id: str) -> None:
    while True:
        notice = _next(notices)
        if isinstance(notice, AttemptEnded) and notice.attempt.run_id == run_id:
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=4096, help="the batch that runs out of memory (default 4096)")
    parser.add_argument("--limit", type=int, default=OOM_LIMIT_MB, help=f"host memory limit, MB ({OOM_LIMIT_MB})")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; medians are printed (default 1)")
    ns = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="memtui-bench-") as tmp:
        data = make_image_folder(Path(tmp) / "data", classes=3, per_class=6, size=OOM_IMAGE_SIZE)
        store = RunStore(Path(tmp) / "runs")
        config = RunConfig(data=str(data), image_size=OOM_IMAGE_SIZE, batch_size=ns.batch, epochs=1,
                           steps_per_epoch=2, host_memory_limit=ns.limit)
        rows: list[tuple[Recovered, Recovered, float]] = []
        for i in range(ns.repeat):
            # Alternate the order so warm caches favour neither side.
            if i % 2 == 1:
                cold_rec = recover(store, config, spare=False)
                warm = recover(store, config)
            else:
                warm = recover(store, config)
                cold_rec = recover(store, config, spare=False)
            cold = cold_start(store, warm.config)
            rows.append((warm, cold_rec, cold))
            print(f"round {i + 1}: recovery with spare {warm.first_step - warm.oom:.2f} s "
                  f"(warm: {warm.warm}), without {cold_rec.first_step - cold_rec.oom:.2f} s "
                  f"(after {warm.attempts - 1} relaunch{'es' if warm.attempts > 2 else ''}), "
                  f"cold start {cold:.2f} s", flush=True)

    def med(values: list[float]) -> float:
        return statistics.median(values)

    cold_s = med([c for _, _, c in rows])
    last = rows[-1][0]
    print(f"\nbatch {ns.batch} at {OOM_IMAGE_SIZE} px under --host-memory-limit {ns.limit}; "
          f"recovered to batch {last.config.batch_size} × accumulate {last.config.grad_accum}")
    print(f"{'':30}{'spare':>10}{'no spare':>10}")
    for label, part in (
        ("OOM → trainer exit", lambda r: r.trainer_exit - r.oom),
        ("trainer exit → verdict", lambda r: r.noticed - r.trainer_exit),
        ("verdict → relaunched", lambda r: r.relaunched - r.noticed),
        ("relaunched → first step", lambda r: r.first_step - r.relaunched),
        ("recovery (OOM → first step)", lambda r: r.first_step - r.oom),
        ("whole ladder (first OOM → step)", lambda r: r.first_step - r.first_oom),
    ):
        print(f"  {label:28}{med([part(w) for w, _, _ in rows]):9.2f}s{med([part(c) for _, c, _ in rows]):9.2f}s")
    print(f"  cold start of that config   {cold_s:6.2f} s (no spare beside it)")
    warm_s = med([w.first_step - w.oom for w, _, _ in rows])
    nospare_s = med([c.first_step - c.oom for _, c, _ in rows])
    print(f"  ratio recovery / cold start: spare {warm_s / cold_s:.2f} (goal <= 0.4), "
          f"no spare {nospare_s / cold_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
