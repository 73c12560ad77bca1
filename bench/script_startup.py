"""Time to the first step: `memtui run --headless -- python train.py` against the
script run on its own. Goal: with memtui ÷ without <= 1.05.

The script is bench/scripts/tiny_fit.py (a tiny convnet on NumPy arrays; its
own callback records when its first step ended). Without memtui: from
launching `python tiny_fit.py` to the end of its first step, as the script
itself saw it. With memtui: from launching `memtui run --headless --json --
python tiny_fit.py` to the moment memtui printed the first `step` event on
its stdout: memtui's own start-up, the reaper, the hook, the event file and
the printing all count. Each round runs one of each, back to back (the order
alternates); the ratio is the median over the rounds of each round's own
ratio, so a shared machine's load changes between rounds cancel out.

Also printed, to say where the time goes: the script's own first step inside
memtui (launch overhead: memtui, the reaper, the hook) and how long its event
took to reach memtui's output (event latency).

    .venv/bin/python bench/script_startup.py [--rounds 7] [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "scripts" / "tiny_fit.py"
GOAL = 1.05


def plain_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MEMTUI_HOOK")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "1"
    return env


def without(work: Path, n: int, steps: int) -> float:
    out = work / f"clock{n}.json"
    launched = time.time()
    subprocess.run([sys.executable, str(SCRIPT), str(out), str(steps)], env=plain_env(), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads(out.read_text())["first_step"] - launched


def with_memtui(work: Path, n: int, steps: int) -> tuple[float, float, float]:
    """(seconds to memtui's first step event on its stdout, seconds to the script's own first step,
    seconds to the script's interpreter starting: the hook's hook.json)."""
    out = work / f"clock{n}.json"
    env = {**plain_env(), "PYTHONPATH": str(ROOT)}
    runs = work / f"runs{n}"
    argv = [sys.executable, "-m", "tui.cli", "run", "--headless", "--json", "--runs-dir", str(runs),
            "--", sys.executable, str(SCRIPT), str(out), str(steps)]
    launched = time.time()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    seen = None
    for line in proc.stdout:
        if seen is None and '"type": "event"' in line and json.loads(line)["event"]["type"] == "step":
            seen = time.time() - launched
    if proc.wait() != 0 or seen is None:
        raise SystemExit(f"memtui run failed (exit {proc.returncode}) or printed no step event")
    hello = next(runs.glob("*/hook.json")).stat().st_mtime - launched
    return seen, json.loads(out.read_text())["first_step"] - launched, hello


def interpreter_start(times: int = 10) -> float:
    """The median seconds of `python -c pass`: what starting an interpreter costs by itself."""
    took = []
    for _ in range(times):
        t = time.time()
        subprocess.run([sys.executable, "-c", "pass"], env=plain_env(), check=True)
        took.append(time.time() - t)
    return statistics.median(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    rounds: list[tuple[float, float, float, float]] = []  # without, with memtui, the script's own, hook.json
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for r in range(args.rounds):
            results: dict[str, object] = {}
            for which in ("without", "with") if r % 2 == 0 else ("with", "without"):
                n = 2 * r + (which == "with")
                results[which] = without(work, n, args.steps) if which == "without" else with_memtui(
                    work, n, args.steps)
            plain = results["without"]
            seen, own, hello = results["with"]  # type: ignore[misc]
            assert isinstance(plain, float)
            rounds.append((plain, seen, own, hello))
            print(f"round {r + 1}: without {plain:5.2f} s · with memtui {seen:5.2f} s to the step event "
                  f"(the script's own first step at {own:5.2f} s) · ratio {seen / plain:.3f}", flush=True)
    ratio = statistics.median(w / p for p, w, _, _ in rounds)
    launch = statistics.median(o / p for p, _, o, _ in rounds)
    latency = statistics.median(w - o for _, w, o, _ in rounds)
    plain = statistics.median(p for p, _, _, _ in rounds)
    # The part of memtui's cost that does not depend on the script: from launching memtui
    # to the script's interpreter running (its hook writes hook.json), less what starting
    # that interpreter costs anyway. Timed in milliseconds, it is far less disturbed by a
    # busy machine than the seconds TensorFlow's import takes.
    fixed = statistics.median(h for _, _, _, h in rounds) - interpreter_start()
    verdict = "met" if ratio <= GOAL else "NOT met"
    print(f"time to the first step: with memtui ÷ without = {ratio:.3f} (median of {len(rounds)} rounds; "
          f"goal <= {GOAL}: {verdict})")
    print(f"  of which: the script's own first step under memtui ÷ without = {launch:.3f}; "
          f"its event reached memtui's output {latency * 1e3:.0f} ms later (median)")
    print(f"  medians: without {plain:.2f} s, with memtui {statistics.median(w for _, w, _, _ in rounds):.2f} s")
    print(f"  memtui's own start-up before the script's interpreter runs: {fixed * 1e3:.0f} ms (median); with "
          f"the event latency it implies with ÷ without = {(plain + fixed + latency) / plain:.3f} for this script")


if __name__ == "__main__":
    main()
