"""Start-up time: launching `memtui` to its first drawn frame, and the share
spent importing. Goal: under 0.5 s.

Runs memtui on a pseudo-terminal with MEMTUI_EXIT_AFTER_PAINT=1 (the app exits
right after its first paint, before launching any trainer), side by side with
`python -c pass` and `python -c "import tui.app, tui.commands.run"`.

    .venv/bin/python bench/startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import pty
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable


def timed(argv: list[str], env: dict[str, str], on_pty: bool) -> float:
    started = time.perf_counter()
    if on_pty:
        leader, follower = pty.openpty()
        proc = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, env=env, cwd=REPO)
        os.close(follower)
        while True:  # drain the terminal so the app never blocks on output
            try:
                if not os.read(leader, 65536):
                    break
            except OSError:
                break
        proc.wait()
        os.close(leader)
    else:
        subprocess.run(argv, env=env, cwd=REPO, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    ns = parser.parse_args()
    env = {**os.environ, "MEMTUI_EXIT_AFTER_PAINT": "1", "TERM": "xterm-256color",
           "MEMTUI_RUNS_DIR": "/tmp/memtui-bench-startup", "COLUMNS": "80", "LINES": "24"}
    cases = {
        "python -c pass": ([PY, "-c", "pass"], False),
        "imports (tui.app + run command)": ([PY, "-c", "import tui.cli, tui.app, tui.commands.run"], False),
        "memtui to first frame": ([PY, "-m", "tui.cli"], True),
    }
    results: dict[str, float] = {}
    for name, (argv, on_pty) in cases.items():
        timed(argv, env, on_pty)  # warm the page cache
        samples = [timed(argv, env, on_pty) for _ in range(ns.repeat)]
        results[name] = statistics.median(samples)
        print(f"{name:<34} median {results[name] * 1000:6.0f} ms  (min {min(samples) * 1000:.0f}, n={ns.repeat})")
    base = results["python -c pass"]
    total = results["memtui to first frame"] - base
    imports = results["imports (tui.app + run command)"] - base
    met = "met" if results["memtui to first frame"] < 0.5 else "NOT met"
    print(f"memtui start-up beyond the interpreter: {total * 1000:.0f} ms; importing: {imports * 1000:.0f} ms "
          f"({imports / total:.0%} of it); goal < 500 ms: {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
