"""CPU cost of telemetry: CPU seconds per second spent by the sampler thread.

Samples at 1 s with the fake two-GPU NVML (tests/fake_pynvml) and a real
two-process tree as the run, for --seconds (default 60), and prints the
sampler thread's CPU time as a percentage of one core next to an idle thread's
over the same period. Goal: at most 0.5% of one core. Exit 1 if missed.

    .venv/bin/python bench/telemetry_cpu.py --seconds 60
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "fake_pynvml"), str(ROOT / "tests"), str(ROOT)]

from fakegpu import two_gpus  # noqa: E402
from treeproc import start_tree, stop_tree  # noqa: E402

from tui.telemetry.sampler import Sampler  # noqa: E402

GOAL_PERCENT = 0.5


class ThreadClock:
    """CPU seconds of the thread that calls `tick`, read with CLOCK_THREAD_CPUTIME_ID (ns resolution)."""

    def __init__(self) -> None:
        self.ticks: list[tuple[float, float]] = []  # (wall, thread CPU)

    def tick(self, *_: object) -> None:
        self.ticks.append((time.monotonic(), time.thread_time()))

    def since(self, start: int) -> tuple[float, float, int]:
        (w0, c0), (w1, c1) = self.ticks[start], self.ticks[-1]
        return w1 - w0, c1 - c0, len(self.ticks) - 1 - start


def idle_thread(stop: threading.Event, clock: ThreadClock) -> None:
    # What any thread that wakes once a second costs: the floor to compare against.
    while not stop.wait(1.0):
        clock.tick()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to measure (default 60)")
    parser.add_argument("--interval", type=float, default=1.0, help="sampling interval (default 1)")
    args = parser.parse_args()
    if args.seconds <= 0:
        parser.error("--seconds must be positive")

    with tempfile.TemporaryDirectory() as tmp:
        tree = start_tree(Path(tmp) / "tree", parent_mib=32, child_mib=16)
        try:
            scenario_path = Path(tmp) / "fake_nvml.json"
            scenario_path.write_text(json.dumps(two_gpus(run_pids=(tree.pid,), other_pids=(os.getpid(),))))
            os.environ["MEMTUI_FAKE_NVML"] = str(scenario_path)

            sampling, idling = ThreadClock(), ThreadClock()
            # on_snapshot runs in the sampler thread, so its clock is that thread's CPU time.
            sampler = Sampler(interval=args.interval, on_snapshot=sampling.tick)
            sampler.set_run(tree.pid)
            stop_idle = threading.Event()
            threading.Thread(target=idle_thread, args=(stop_idle, idling), daemon=True).start()
            sampler.start()
            while not (sampling.ticks and idling.ticks):  # leave NVML start-up out: it is paid once
                time.sleep(0.01)
            time.sleep(args.seconds)
            sampler.stop()
            stop_idle.set()
            last = sampler.latest
        finally:
            stop_tree(tree)

    wall, sampler_cpu, samples = sampling.since(0)
    idle_wall, idle_cpu, _ = idling.since(0)
    sampler_pct = 100 * sampler_cpu / wall
    idle_pct = 100 * idle_cpu / idle_wall
    print(f"telemetry CPU over {wall:.1f} s at {args.interval:g} s: fake two-GPU NVML, real 2-process run tree")
    print(f"  {'thread':<16}{'CPU s':>9}{'% of one core':>16}")
    print(f"  {'sampler':<16}{sampler_cpu:>9.4f}{sampler_pct:>15.3f}%   ({samples} samples, "
          f"{1000 * sampler_cpu / max(1, samples):.2f} ms CPU each)")
    print(f"  {'idle (baseline)':<16}{idle_cpu:>9.4f}{idle_pct:>15.3f}%")
    if last is not None and last.trainer is not None:
        print(f"  last reading: {len(last.gpus)} GPUs, run tree {len(last.trainer.pids)} processes, "
              f"GPU0 attribution {last.gpus[0].attribution}")
    met = sampler_pct <= GOAL_PERCENT
    print(f"goal <= {GOAL_PERCENT}% of one core: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
