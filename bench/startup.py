"""Start-up time: launching `memtui` to its first drawn frame, and the share
spent importing. Goal: under 0.5 s.

Runs memtui on a pseudo-terminal (80x24) with MEMTUI_EXIT_AFTER_PAINT=1 (the
app exits right after its first paint, before launching any trainer). The
first frame counts as drawn when the terminal output, escape sequences
removed, holds the header's last line ("auto-recover"): the screen is on the
terminal then. Exiting (Textual joins its input thread, restores the terminal)
is timed too but is not start-up.

Side by side, in the same run and the same way: `python -c pass` (the
interpreter alone), `python -c "import tui.cli, tui.ui.app, tui.cli.commands.run"`
(memtui's imports) and a bare Textual app with one line of text (what the
framework costs before memtui adds anything). Runs alternate, so a busy
machine slows all of them alike.

    .venv/bin/python bench/startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
RATIO_GOAL = 1.5
GOAL_S = 0.5
MARK = b"auto-recover"  # the header's third line: on screen only once the first frame is
ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")

BARE_APP = f"""
from textual.app import App
from textual.widgets import Static
class Bare(App):
    def compose(self):
        yield Static({MARK.decode()!r})
    def on_ready(self):
        self.call_after_refresh(self.exit)
Bare().run()
"""


def on_pty(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds to the first frame, seconds to exit) of a program on a pseudo-terminal."""
    leader, follower = pty.openpty()
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, env=env, cwd=REPO)
    os.close(follower)
    seen = b""
    first = float("nan")
    while True:  # drain the terminal so the app never blocks on output
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        if first != first:  # still looking for the first frame
            seen += data
            if MARK in ESCAPES.sub(b"", seen):
                first = time.perf_counter() - started
    proc.wait()
    ended = time.perf_counter() - started
    os.close(leader)
    if proc.returncode != 0 or first != first:
        raise SystemExit(f"bench/startup.py: {' '.join(argv[:3])} exited {proc.returncode} "
                         f"{'without drawing a frame' if first != first else ''}; run it by hand to see why")
    return first, ended


def plain(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=REPO, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    ns = parser.parse_args()
    env = {**os.environ, "MEMTUI_EXIT_AFTER_PAINT": "1", "TERM": "xterm-256color",
           "MEMTUI_RUNS_DIR": "/tmp/memtui-bench-startup", "COLUMNS": "80", "LINES": "24"}
    samples: dict[str, list[float]] = {k: [] for k in ("pass", "imports", "bare", "first", "exit")}
    for i in range(ns.repeat + 1):  # round 0 warms the page cache and is dropped
        rnd = {
            "pass": plain([PY, "-c", "pass"], env),
            "imports": plain([PY, "-c", "import tui.cli, tui.ui.app, tui.cli.commands.run"], env),
            "bare": on_pty([PY, "-c", BARE_APP], env)[0],
        }
        rnd["first"], rnd["exit"] = on_pty([PY, "-m", "tui.cli"], env)
        if i:
            for key, value in rnd.items():
                samples[key].append(value)
    med = {k: statistics.median(v) for k, v in samples.items()}

    def row(label: str, key: str) -> None:
        values = samples[key]
        print(f"  {label:<44} median {med[key] * 1000:5.0f} ms  (min {min(values) * 1000:.0f}, "
              f"max {max(values) * 1000:.0f}, n={len(values)})")

    print(f"start-up, {ns.repeat} alternating rounds on a pseudo-terminal (80x24):")
    row("baseline: python -c pass", "pass")
    row("baseline: bare Textual app, first frame", "bare")
    row("memtui imports (tui.cli, tui.ui.app, run cmd)", "imports")
    row("memtui, launch to first frame", "first")
    row("memtui, launch to exit after first frame", "exit")
    beyond = med["first"] - med["pass"]
    importing = med["imports"] - med["pass"]
    print(f"memtui first frame {med['first'] * 1000:.0f} ms: {beyond * 1000:.0f} ms beyond the interpreter, of which "
          f"importing {importing * 1000:.0f} ms ({importing / beyond:.0%}); "
          f"{(med['first'] - med['bare']) * 1000:+.0f} ms against a bare Textual app")
    print(f"goal: first frame < {GOAL_S * 1000:.0f} ms: {'met' if med['first'] < GOAL_S else 'NOT met'}")
    ratio = med["first"] / med["bare"]
    print(f"first frame / bare Textual first frame: {ratio:.2f} (goal <= {RATIO_GOAL}: "
          f"{'met' if ratio <= RATIO_GOAL else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
