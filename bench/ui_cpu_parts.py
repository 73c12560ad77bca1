"""Where memtui's CPU at 20 steps/s goes: the real screen beside the same
screen with one part switched off, both running at the same time on the same
machine (so a busy spell weighs on both), in pairs.

Parts that can be switched off (each a variant of the real app, patched in
this script's child process only, never in memtui itself):
- `paint`: the newest step is not shown in the step log's border (no row
  painted, nothing written to the terminal for it);
- `events`: the screen does nothing with the supervisor's event batches (the
  follower still reads, decodes and hands them on).

CPU is each process's own, from /proc's schedstat (its threads' run time, in
nanoseconds). The difference in a pair is what that part costs.

    .venv/bin/python bench/ui_cpu_parts.py [--pairs 3] [--seconds 25] [--parts paint events]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

from ui_cpu import SETTLE_S, env_for, on_pty  # this folder: the same run, pty and drain as ui_cpu.py

# Run as `python -c VARIANT PART`: the app with PART switched off.
VARIANT = """
import sys
part = sys.argv.pop(1)
if part == "paint":
    from tui.ui.widgets.steplog import StepLog
    StepLog.show_newest = lambda self, line: None
elif part == "events":
    from tui.ui.screens.main import MainScreen
    MainScreen.events = lambda self, info, events, garbage: None
from tui.cli import main
sys.exit(main())
"""


def run_time(pid: int) -> float:
    """Seconds of CPU the process's threads have run, from schedstat."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                total += int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that ended in between
    return total / 1e9


def start(argv: list[str], rate: float, seconds: float) -> tuple[subprocess.Popen[bytes], int]:
    return on_pty([sys.executable, *argv, "--epochs", "1"], env_for(rate, seconds))


def stop(proc: subprocess.Popen[bytes], leader: int) -> None:
    try:
        os.write(leader, b"q")
        time.sleep(0.5)
        os.write(leader, b"s")
        proc.wait(timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    os.close(leader)


def pair(part: str, rate: float, seconds: float) -> tuple[float, float]:
    """(whole screen, screen without `part`) as shares of one core, measured together."""
    both = [start(["-m", "tui.cli"], rate, seconds), start(["-c", VARIANT, part], rate, seconds)]
    try:
        time.sleep(SETTLE_S)
        before, t0 = [run_time(p.pid) for p, _ in both], time.monotonic()
        time.sleep(seconds)
        after, t1 = [run_time(p.pid) for p, _ in both], time.monotonic()
    finally:
        for proc, leader in both:
            stop(proc, leader)
    whole, without = ((a - b) / (t1 - t0) for a, b in zip(after, before, strict=True))
    return whole, without


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--parts", nargs="+", choices=["paint", "events"], default=["paint", "events"])
    ns = parser.parse_args()
    if not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/schedstat"):
        print("this needs Linux's /proc/PID/task/TID/schedstat", file=sys.stderr)
        return 2
    print(f"memtui at {ns.rate:.0f} steps/s, 80x24, {ns.pairs} pairs of {ns.seconds:.0f} s, each pair at once:")
    for part in ns.parts:
        runs = [pair(part, ns.rate, ns.seconds) for _ in range(ns.pairs)]
        costs = [whole - without for whole, without in runs]
        each = ", ".join(f"{w:.2%} / {o:.2%}" for w, o in runs)
        print(f"  without {part:<6}: whole / without: {each}; the part costs median {statistics.median(costs):.2%} "
              f"of one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
