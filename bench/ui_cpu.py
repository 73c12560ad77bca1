"""memtui's own CPU while a run steps 20 times a second. Goal: <= 2% of one core.

Starts the real `memtui` on a pseudo-terminal (80x24) with the stand-in trainer
stepping at 20 steps/s, waits for training to settle, then measures the CPU
time of the memtui process alone (user + system, not its children) over a
window, and stops everything.

Baseline, side by side and alternating with the screen (so a busy machine
weighs on both alike): `memtui --headless` following the same run, i.e. the
supervisor, follower and telemetry sampler without drawing anything. The
difference is what the screen itself costs.

    .venv/bin/python bench/ui_cpu.py [--seconds 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
GOAL = 0.02
SETTLE_S = 8.0  # start-up and the first steps are not the steady state


def env_for(rate: float, seconds: float) -> dict[str, str]:
    return {**os.environ, "MEMTUI_TRAINER_MODULE": "tests.stand_in_trainer",
            "MEMTUI_RUNS_DIR": tempfile.mkdtemp(prefix="memtui-bench-cpu-"),
            "STAND_IN_SCRIPT": json.dumps({"rate": rate, "steps": int(rate * (seconds + SETTLE_S + 30))}),
            "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}


def cpu_share(proc: subprocess.Popen[bytes], seconds: float) -> float:
    """Share of one core the process itself used over `seconds`, after settling."""
    me = psutil.Process(proc.pid)
    time.sleep(SETTLE_S)
    before, t0 = me.cpu_times(), time.monotonic()
    time.sleep(seconds)
    after, t1 = me.cpu_times(), time.monotonic()
    return ((after.user - before.user) + (after.system - before.system)) / (t1 - t0)


def screen(rate: float, seconds: float) -> float:
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "--epochs", "1"], stdin=follower, stdout=follower,
                            stderr=follower, env=env_for(rate, seconds), cwd=REPO, start_new_session=True)
    os.close(follower)

    def drain() -> None:
        while True:
            try:
                if not os.read(leader, 65536):
                    return
            except OSError:
                return

    threading.Thread(target=drain, daemon=True).start()
    try:
        return cpu_share(proc, seconds)
    finally:
        os.write(leader, b"q")
        time.sleep(0.5)
        os.write(leader, b"s")
        finish(proc)


def headless(rate: float, seconds: float) -> float:
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "--headless", "--epochs", "1"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env_for(rate, seconds), cwd=REPO, start_new_session=True)
    try:
        return cpu_share(proc, seconds)
    finally:
        proc.send_signal(signal.SIGINT)
        finish(proc)


def finish(proc: subprocess.Popen[bytes]) -> None:
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring window per round")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    ns = parser.parse_args()
    shares: dict[str, list[float]] = {"screen": [], "headless": []}
    for _ in range(ns.rounds):
        shares["screen"].append(screen(ns.rate, ns.seconds))
        shares["headless"].append(headless(ns.rate, ns.seconds))
    med = {k: statistics.median(v) for k, v in shares.items()}
    for name, label in (("headless", "baseline: memtui --headless"), ("screen", "memtui screen (80x24)")):
        each = ", ".join(f"{v:.1%}" for v in shares[name])
        print(f"  {label:<30} median {med[name]:5.1%} of one core  ({each})")
    print(f"memtui own CPU at {ns.rate:.0f} steps/s, {ns.rounds} x {ns.seconds:.0f} s: "
          f"{med['screen']:.1%} of one core, "
          f"of which drawing the screen {med['screen'] - med['headless']:.1%} "
          f"(goal <= {GOAL:.0%}: {'met' if med['screen'] <= GOAL else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
