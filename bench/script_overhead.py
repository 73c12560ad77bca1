"""What memtui's script hook costs an unmodified user script.

Runs bench/scripts/tiny_fit.py with and without the hook (the environment
from trainer.hookspec.launch_env), alternated in one run, each in a fresh
process. The script's own callback times its steps, so both runs carry the
same measuring cost. Prints steps/s with ÷ without (goal >= 0.99) and the time
from launch to the first step's end with ÷ without (goal <= 1.05). Each round
runs one of each, back to back (the order alternates), and the ratios are the
median over the rounds of each round's own ratio, so a shared machine's load
changes between rounds cancel out. It also prints CPU seconds per step (the
process's, all threads) with ÷ without, which other processes' load disturbs
less than wall time. Last, two measures the load hardly disturbs: the event
callback's own CPU cost per step and per written event (timed directly in a
hooked process, bench/scripts/callback_cost.py), turned into the steps/s ratio
they imply at the measured rate with events at most 20 a second; and the
interpreter's start-up (`python -c pass`) with and without the hook.

    .venv/bin/python bench/script_overhead.py [--rounds 5] [--steps 600]
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
sys.path.insert(0, str(ROOT))

from trainer.hookspec import HookSettings, launch_env  # noqa: E402

SCRIPT = ROOT / "bench" / "scripts" / "tiny_fit.py"
COST = ROOT / "bench" / "scripts" / "callback_cost.py"


def plain_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MEMTUI_HOOK")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "1"
    return env


def hooked_env(run_dir: Path) -> dict[str, str]:
    base = plain_env()
    return {**base, **launch_env(HookSettings(run_dir=str(run_dir)), base)}


def startup_seconds(env: dict[str, str], times: int = 20) -> float:
    best = []
    for _ in range(times):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        best.append(time.perf_counter() - t)
    return statistics.median(best)


def once(hooked: bool, steps: int, work: Path, n: int) -> tuple[float, float, float]:
    """(steps per second after the first step, seconds from launch to the first
    step's end, CPU seconds per step after the first)."""
    env = hooked_env(work / f"run{n}") if hooked else plain_env()
    out = work / f"clock{n}.json"
    launched = time.time()
    subprocess.run([sys.executable, str(SCRIPT), str(out), str(steps)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    clock = json.loads(out.read_text())
    if hooked:
        assert (work / f"run{n}" / "events.jsonl").stat().st_size > 0, "the hook wrote no events"
    done = clock["steps"] - 1
    return done / (clock["end"] - clock["first_step"]), clock["first_step"] - launched, clock["cpu"] / done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args()
    pairs: list[dict[bool, tuple[float, float, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            pair: dict[bool, tuple[float, float, float]] = {}
            for hooked in (False, True) if r % 2 == 0 else (True, False):
                pair[hooked] = once(hooked, args.steps, Path(tmp), 2 * r + hooked)
                rate, first, cpu = pair[hooked]
                print(f"round {r + 1} {'with' if hooked else 'without'} hook: {rate:7.1f} steps/s, "
                      f"first step after {first:5.2f} s, {cpu * 1e3:.3f} ms CPU/step", flush=True)
            pairs.append(pair)

    def ratio(i: int) -> float:
        return statistics.median(p[True][i] / p[False][i] for p in pairs)

    def median(hooked: bool, i: int) -> float:
        return statistics.median(p[hooked][i] for p in pairs)

    print(f"steps/s: with {median(True, 0):.1f}, without {median(False, 0):.1f} (medians); "
          f"with ÷ without = {ratio(0):.3f} (median of {len(pairs)} rounds; goal >= 0.99)")
    print(f"time to first step: with {median(True, 1):.2f} s, without {median(False, 1):.2f} s; "
          f"with ÷ without = {ratio(1):.3f} (goal <= 1.05)")
    print(f"CPU per step: with ÷ without = {ratio(2):.3f}")
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, str(COST)], env=hooked_env(Path(tmp)), check=True,
                             capture_output=True, text=True).stdout
        cost = json.loads(out.strip().splitlines()[-1])
        with_hook = startup_seconds(hooked_env(Path(tmp) / "s"))
        without = startup_seconds(plain_env())
    rate = median(False, 0)
    per_second = cost["step_us"] * 1e-6 * rate + cost["event_us"] * 1e-6 * min(20.0, rate)
    print(f"callback cost: {cost['step_us']:.1f} us CPU per step, {cost['event_us']:.0f} us per event; at "
          f"{rate:.0f} steps/s that implies with ÷ without = {1 / (1 + per_second):.4f}")
    print(f"interpreter start-up: with {with_hook * 1e3:.0f} ms, without {without * 1e3:.0f} ms "
          f"(+{(with_hook - without) * 1e3:.0f} ms)")


if __name__ == "__main__":
    main()
