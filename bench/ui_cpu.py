"""memtui's own CPU while a run steps 20 times a second. Goal: <= 2% of one core.

Starts the real `memtui` on a pseudo-terminal (80x24) with the stand-in trainer
stepping at 20 steps/s, waits for training to settle, then measures the CPU
time of the memtui process alone (user + system, not its children) over a
window, and stops everything.

    .venv/bin/python bench/ui_cpu.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=20.0)
    ns = parser.parse_args()
    runs = tempfile.mkdtemp(prefix="memtui-bench-cpu-")
    env = {**os.environ, "MEMTUI_TRAINER_MODULE": "tests.stand_in_trainer", "MEMTUI_RUNS_DIR": runs,
           "STAND_IN_SCRIPT": json.dumps({"rate": ns.rate, "steps": int(ns.rate * (ns.seconds + 30))}),
           "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "--epochs", "1"], stdin=follower, stdout=follower,
                            stderr=follower, env=env, cwd=REPO, start_new_session=True)
    os.close(follower)

    def drain() -> None:
        while True:
            try:
                if not os.read(leader, 65536):
                    return
            except OSError:
                return

    threading.Thread(target=drain, daemon=True).start()
    me = psutil.Process(proc.pid)
    try:
        time.sleep(8)  # start-up and the first steps are not the steady state
        before, t0 = me.cpu_times(), time.monotonic()
        time.sleep(ns.seconds)
        after, t1 = me.cpu_times(), time.monotonic()
        used = (after.user - before.user) + (after.system - before.system)
        share = used / (t1 - t0)
        print(f"memtui own CPU at {ns.rate:.0f} steps/s over {t1 - t0:.1f} s: {used:.2f} s = {share:.1%} of one core "
              f"(goal <= 2%: {'met' if share <= 0.02 else 'NOT met'})")
    finally:
        os.write(leader, b"q")
        time.sleep(0.5)
        os.write(leader, b"s")
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
