"""Latency from the trainer writing an event to the screen showing it, p50/p95,
at 20 steps/s and at 1,000 events/s; and, while events stream, how long a key
press takes to show on screen. Goal: p95 <= 100 ms; key press within 100 ms.

End to end, as a person sees it: the real `memtui` runs on a pseudo-terminal
(80x24, or --size: from 120 columns the plots are on screen beside the log)
with the stand-in trainer (a real subprocess on the real protocol) writing
step events stamped with the time it wrote them (`t`). This script reads what
memtui writes to the terminal and notes when each step first appears there:

- shown on screen (the goal): the step in the step log's bottom border
  ("newest e1 35/40 ..."), the one-line place that always holds the newest
  step, painted straight to the terminal between frames. Every step written
  counts: one that a newer step replaced before it was painted (a batch holds
  several at 1,000 events/s) is shown when that newer step first is.
- log catch-up: every step, until the scrolling log shows its line. The log
  catches up once a second by design, so this is expected to exceed the goal;
  it is printed so nobody mistakes one for the other.
- key press: `A` (toggle auto-recover) written to the terminal, until the
  header shows the new word.

Baseline, side by side in the same runs: when this script itself could first
read each step from RUN/events.jsonl, polling the file every millisecond, the
floor under any follower of the file.

    .venv/bin/python bench/latency.py [--seconds 6] [--size 120x40]
"""

from __future__ import annotations

import argparse
import bisect
import fcntl
import json
import os
import pty
import re
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

REPO = Path(__file__).resolve().parent.parent
GOAL_S = 0.1
NEWEST = re.compile(rb"newest e(\d+) (\d+)/")
LOG_LINE = re.compile(rb"(?<!newest )e(\d+) +(\d+)/\d+ loss")
AUTO = re.compile(rb"auto-recover (?:\x1b\[[0-9;]*m)*(on|off)")


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


class Screen:
    """Reads the terminal's side of the pty; notes when each thing first shows."""

    def __init__(self, leader: int) -> None:
        self.leader = leader
        self.newest: dict[tuple[int, int], float] = {}
        self.logged: dict[tuple[int, int], float] = {}
        self.auto: list[tuple[float, bytes]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        carry = b""
        while True:
            try:
                data = os.read(self.leader, 65536)
            except OSError:
                return
            if not data:
                return
            now = time.time()
            text = carry + data
            for pattern, seen in ((NEWEST, self.newest), (LOG_LINE, self.logged)):
                for m in pattern.finditer(text):
                    seen.setdefault((int(m[1]), int(m[2])), now)
            self.auto.extend((now, m[1]) for m in AUTO.finditer(data))
            carry = text[-200:]


def follow_file(path: Path, seen: dict[tuple[int, int], float], stop: threading.Event) -> None:
    """The floor: when a reader of the file could first see each step (1 ms polls)."""
    offset, tail = 0, b""
    while not stop.is_set():
        try:
            with path.open("rb") as fh:
                fh.seek(offset)
                data = fh.read()
        except FileNotFoundError:
            data = b""
        if data:
            now = time.time()
            offset += len(data)
            *lines, tail = (tail + data).split(b"\n")
            for line in lines:
                if b'"type": "step"' in line or b'"type":"step"' in line:
                    event = json.loads(line)
                    seen.setdefault((event["epoch"], event["step"]), now)
        time.sleep(0.001)


def written(run_dir: Path) -> dict[tuple[int, int], float]:
    stamps = {}
    for line in (run_dir / "events.jsonl").read_bytes().splitlines():
        if b'"step"' in line:
            event = json.loads(line)
            if event.get("type") == "step":
                stamps[(event["epoch"], event["step"])] = event["t"]
    return stamps


SIZE = [80, 24]  # columns, lines (--size)
KEYS = [True]  # press `A` while steps stream (--no-keys: not)


def measure(rate: float, seconds: float) -> dict[str, list[float]]:
    runs = Path(tempfile.mkdtemp(prefix="memtui-bench-latency-"))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(MEMTUI_TRAINER_MODULE="tests.stand_in_trainer", MEMTUI_RUNS_DIR=str(runs), TERM="xterm-256color",
               STAND_IN_SCRIPT=json.dumps({"rate": rate, "steps": int(rate * (seconds + 60))}),
               PYTHONPATH=str(REPO))
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "--epochs", "1"], stdin=follower, stdout=follower,
                            stderr=follower, env=env, cwd=REPO, start_new_session=True)
    os.close(follower)
    screen = Screen(leader)
    stop = threading.Event()
    floor: dict[tuple[int, int], float] = {}
    keys: list[float] = []
    try:
        deadline = time.monotonic() + 60
        while not screen.newest and time.monotonic() < deadline:
            time.sleep(0.05)
        run_dir = next(p for p in runs.iterdir() if (p / "config.json").exists())
        threading.Thread(target=follow_file, args=(run_dir / "events.jsonl", floor, stop), daemon=True).start()
        time.sleep(2.0)  # past the start-up
        begin = time.time()
        end = time.monotonic() + seconds
        while time.monotonic() < end and not KEYS[0]:
            time.sleep(0.05)
        while time.monotonic() < end:
            before = len(screen.auto)
            sent = time.time()
            os.write(leader, b"A")
            key_deadline = time.monotonic() + 5
            while len(screen.auto) == before and time.monotonic() < key_deadline:
                time.sleep(0.001)
            if len(screen.auto) > before:
                keys.append(screen.auto[before][0] - sent)
            time.sleep(0.3)
        finish = time.time()
        time.sleep(1.5)  # let the log catch up with the last steps
        stamps = written(run_dir)
    finally:
        stop.set()
        os.write(leader, b"q")
        time.sleep(0.5)
        os.write(leader, b"s")
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(leader)

    def lags(seen: dict[tuple[int, int], float]) -> list[float]:
        return [seen[k] - t for k, t in stamps.items() if k in seen and begin <= t <= finish]

    return {"shown": lags(shown_by_newer(screen.newest, stamps)), "log": lags(screen.logged),
            "floor": lags(floor), "keys": keys}


def shown_by_newer(shown: dict[tuple[int, int], float],
                   steps: dict[tuple[int, int], float]) -> dict[tuple[int, int], float]:
    """When each step, or a newer one, first showed: a step that a newer one
    replaced before it was painted was on screen, in that sense, once the newer
    one was. Steps after the newest shown one are left out (never shown)."""
    keys = sorted(shown)
    earliest: list[float] = []
    for key in reversed(keys):
        earliest.append(min(shown[key], earliest[-1]) if earliest else shown[key])
    earliest.reverse()
    out = {}
    for step in steps:
        i = bisect.bisect_left(keys, step)
        if i < len(keys):
            out[step] = earliest[i]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--size", default="80x24", help="columns x lines of the terminal, e.g. 120x40")
    parser.add_argument("--no-keys", action="store_true",
                        help="no key presses meanwhile (each `A` shows a notification over the bottom right)")
    ns = parser.parse_args()
    KEYS[0] = not ns.no_keys
    SIZE[:] = [int(n) for n in ns.size.lower().split("x")]
    print(f"terminal {ns.size}{' (plots beside the log)' if SIZE[0] >= 120 else ''}")
    met = True
    for rate in (20.0, 1000.0):
        got = measure(rate, ns.seconds)
        shown, log, floor, keys = got["shown"], got["log"], got["floor"], got["keys"]
        p95, key_max = pct(shown, 95), max(keys) if keys else 0.0
        met = met and p95 <= GOAL_S and key_max <= GOAL_S
        print(f"{rate:>6.0f} events/s: newest step shown on screen (step log's bottom border), n={len(shown)}: "
              f"p50 {pct(shown, 50) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms\n"
              f"{'':>17}scrolling log catch-up, every step, n={len(log)}: p50 {pct(log, 50) * 1000:.0f} ms, "
              f"p95 {pct(log, 95) * 1000:.0f} ms\n"
              f"{'':>17}baseline, readable in events.jsonl (1 ms polls), n={len(floor)}: "
              f"p50 {pct(floor, 50) * 1000:.0f} ms, p95 {pct(floor, 95) * 1000:.0f} ms"
              + (f"\n{'':>17}key press shown on screen: p50 {pct(keys, 50) * 1000:.0f} ms, "
                 f"p95 {pct(keys, 95) * 1000:.0f} ms, max {key_max * 1000:.0f} ms (n={len(keys)})" if keys else ""))
    print(f"goal: newest step shown p95 <= {GOAL_S * 1000:.0f} ms and key press <= {GOAL_S * 1000:.0f} ms at both "
          f"rates: {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
