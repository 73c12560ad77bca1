"""Overhead of memtui on a 2-worker job: steps/s under memtui ÷ the same job started by hand.

The same two workers (memtui's trainer, Keras 3 on JAX, Gloo collectives on
CPU, tiny data) are started two ways, alternately in one run so both see the
same machine: `memtui run --headless --backend jax --workers 2` (reaper,
group watch, event follower, telemetry), and `python -m trainer` twice by hand
with the same Keras distribution variables. Steps/s is read from rank 0's
step events after the first WARMUP steps (compilation), so start-up is not
counted. Goal: ratio ≥ 0.97.

    .venv/bin/python bench/distributed_overhead.py [--steps 80] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.tinydata import make_image_folder  # noqa: E402
from trainer.distributed import free_port, worker_env  # noqa: E402

PY = sys.executable
WARMUP = 5


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("MEMTUI_TRAINER_MODULE", "KERAS_BACKEND")}


def _args(data: Path, steps: int) -> list[str]:
    return ["--backend", "jax", "--workers", "2", "--data", str(data), "--image-size", "32", "--batch-size", "8",
            "--epochs", "1", "--steps-per-epoch", str(steps)]


def steps_per_second(events: Path) -> float:
    """Rank 0's training rate after the warm-up steps, from its own step events."""
    steps = [(e["step"], e["t"]) for e in map(json.loads, events.read_text().splitlines()) if e["type"] == "step"]
    later = [(s, t) for s, t in steps if s > WARMUP]
    if len(later) < 2:
        raise SystemExit(f"distributed_overhead: too few steps in {events} ({len(steps)}); raise --steps")
    (s0, t0), (s1, t1) = later[0], later[-1]
    return (s1 - s0) / (t1 - t0)


def under_memtui(tmp: Path, data: Path, steps: int, n: int) -> float:
    runs = tmp / f"runs-{n}"
    subprocess.run([PY, "-m", "tui.cli", "run", "--headless", "--runs-dir", str(runs), *_args(data, steps)],
                   cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   stdin=subprocess.DEVNULL, check=True, timeout=600)
    (events,) = runs.glob("2*/events.jsonl")
    return steps_per_second(events)


def by_hand(tmp: Path, data: Path, steps: int, n: int) -> float:
    run = tmp / f"hand-{n}"
    address = f"127.0.0.1:{free_port()}"
    env = {**_env(), "KERAS_BACKEND": "jax"}
    procs = [subprocess.Popen([PY, "-m", "trainer", "--run-dir", str(run), *_args(data, steps)], cwd=REPO,
                              env={**env, **worker_env(rank, 2, address, None)}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
             for rank in range(2)]
    codes = [p.wait(timeout=600) for p in procs]
    if any(codes):
        raise SystemExit(f"distributed_overhead: the workers by hand ended with {codes}")
    return steps_per_second(run / "events.jsonl")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    memtui: list[float] = []
    hand: list[float] = []
    with tempfile.TemporaryDirectory(prefix="memtui-doverhead-") as name:
        tmp = Path(name)
        data = make_image_folder(tmp / "data", classes=3, per_class=8, size=32)
        for n in range(args.repeat):
            # Alternate, so a change in the machine's load falls on both.
            memtui.append(under_memtui(tmp, data, args.steps, n))
            hand.append(by_hand(tmp, data, args.steps, n))
            print(f"round {n + 1}: under memtui {memtui[-1]:.2f} steps/s, by hand {hand[-1]:.2f} steps/s", flush=True)
    ratio = statistics.median(memtui) / statistics.median(hand)
    print(f"2 workers, steps/s under memtui ÷ by hand (medians of {args.repeat}): {ratio:.3f} (goal ≥ 0.97)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
