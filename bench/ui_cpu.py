"""memtui's own CPU while a run steps 20 times a second. Goal: <= 2% of one core.

Starts the real `memtui` on a pseudo-terminal (80x24, or --size; from 120
columns the plots are on screen beside the log) with the stand-in trainer
stepping at 20 steps/s, waits for training to settle, then measures the CPU
time of the memtui process alone (user + system, not its children) over a
window, and stops everything.

Two baselines, side by side and alternating with the screen (so a busy
machine weighs on all alike):
- `memtui --headless` following the same run, i.e. the supervisor, follower
  and telemetry sampler without drawing anything. The difference is what the
  screen itself costs.
- a bare Textual app on the same terminal whose only work is updating one
  label 20 times a second: what the framework's ordinary way of showing a
  changing line costs, with nothing to follow or sample.

With --plots at a size below 120 columns, `p` is pressed once memtui is up, so
the plots are on screen in the step log's place.

    .venv/bin/python bench/ui_cpu.py [--seconds 20] [--rounds 2] [--size 120x40] [--plots]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
GOAL = 0.02
SETTLE_S = 8.0  # start-up and the first steps are not the steady state
SIZE = [80, 24]  # columns, lines (--size)
PRESS_P = [False]  # --plots below 120 columns


def env_for(rate: float, seconds: float) -> dict[str, str]:
    return {**os.environ, "MEMTUI_TRAINER_MODULE": "tests.stand_in_trainer",
            "MEMTUI_RUNS_DIR": tempfile.mkdtemp(prefix="memtui-bench-cpu-"),
            "STAND_IN_SCRIPT": json.dumps({"rate": rate, "steps": int(rate * (seconds + SETTLE_S + 30))}),
            "TERM": "xterm-256color", "COLUMNS": str(SIZE[0]), "LINES": str(SIZE[1])}


def cpu_share(proc: subprocess.Popen[bytes], seconds: float) -> float:
    """Share of one core the process itself used over `seconds`, after settling."""
    me = psutil.Process(proc.pid)
    time.sleep(SETTLE_S)
    before, t0 = me.cpu_times(), time.monotonic()
    time.sleep(seconds)
    after, t1 = me.cpu_times(), time.monotonic()
    return ((after.user - before.user) + (after.system - before.system)) / (t1 - t0)


def screen(rate: float, seconds: float) -> float:
    proc, leader = on_pty([sys.executable, "-m", "tui.cli", "--epochs", "1"], env_for(rate, seconds))
    try:
        if PRESS_P[0]:
            time.sleep(3.0)
            os.write(leader, b"p")
        return cpu_share(proc, seconds)
    finally:
        os.write(leader, b"q")
        time.sleep(0.5)
        os.write(leader, b"s")
        finish(proc)


BARE_APP = """
import sys
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("waiting", id="line")

    def on_mount(self):
        self.n = 0
        self.set_interval(1 / float(sys.argv[1]), self.step)

    def step(self):
        self.n += 1
        self.query_one("#line", Static).update(f"e1 {self.n:5d}/9999 loss {1 / self.n:.4f}")

Bare().run()
"""


def on_pty(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    proc = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, env=env, cwd=REPO,
                            start_new_session=True)
    os.close(follower)

    def drain() -> None:
        while True:
            try:
                if not os.read(leader, 65536):
                    return
            except OSError:
                return

    threading.Thread(target=drain, daemon=True).start()
    return proc, leader


def bare(rate: float, seconds: float) -> float:
    proc, leader = on_pty([sys.executable, "-c", BARE_APP, str(rate)], env_for(rate, seconds))
    try:
        return cpu_share(proc, seconds)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        finish(proc)
        os.close(leader)


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
    parser.add_argument("--size", default="80x24", help="columns x lines of the terminal, e.g. 120x40")
    parser.add_argument("--plots", action="store_true", help="below 120 columns, press p: the plots on screen")
    ns = parser.parse_args()
    SIZE[:] = [int(n) for n in ns.size.lower().split("x")]
    PRESS_P[0] = ns.plots and SIZE[0] < 120
    shares: dict[str, list[float]] = {"screen": [], "headless": [], "bare": []}
    for _ in range(ns.rounds):
        shares["screen"].append(screen(ns.rate, ns.seconds))
        shares["headless"].append(headless(ns.rate, ns.seconds))
        shares["bare"].append(bare(ns.rate, ns.seconds))
    med = {k: statistics.median(v) for k, v in shares.items()}
    bare_label = f"baseline: bare Textual, 1 label {ns.rate:.0f}/s"
    for name, label in (("headless", "baseline: memtui --headless"), ("bare", bare_label),
                        ("screen", f"memtui screen ({ns.size}{', p: plots' if PRESS_P[0] else ''})")):
        each = ", ".join(f"{v:.1%}" for v in shares[name])
        print(f"  {label:<38} median {med[name]:5.1%} of one core  ({each})")
    print(f"memtui own CPU at {ns.rate:.0f} steps/s, {ns.rounds} x {ns.seconds:.0f} s: "
          f"{med['screen']:.1%} of one core, "
          f"of which drawing the screen {med['screen'] - med['headless']:.1%} "
          f"(goal <= {GOAL:.0%}: {'met' if med['screen'] <= GOAL else 'NOT met'}); "
          f"{med['screen'] / med['bare']:.2f}x the bare Textual app")
    return 0


if __name__ == "__main__":
    sys.exit(main())
