"""Time from one worker's death to the whole 2-worker group gone: under memtui, and by hand.

A real 2-process JAX job on CPU (Gloo collectives), tiny data; once rank 1
has stepped it is killed with SIGKILL, and the clock runs until rank 0 has
ended too. Three ways to start the same 2 workers:

- `memtui`: `memtui run --headless --backend jax --workers 2` (the reaper
  stops the others; tui/supervision/group.py);
- `trainer`: memtui's trainer (`python -m trainer`) started twice by hand with
  the same Keras distribution variables, no reaper (its own fast exit on a
  failure is all that helps);
- `keras`: a plain Keras script started twice by hand, as a user would without
  memtui: the survivor waits for JAX's heartbeat (about 70-90 s here).

    .venv/bin/python bench/distributed_stop.py [--modes memtui,trainer,keras]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.tinydata import make_image_folder  # noqa: E402
from trainer.distributed import free_port, worker_env  # noqa: E402

PY = sys.executable
KERAS_SCRIPT = textwrap.dedent("""
    import os, time
    import keras, numpy as np
    keras.distribution.initialize()
    keras.distribution.set_distribution(keras.distribution.DataParallel(
        devices=keras.distribution.list_devices(), auto_shard_dataset=False))
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(int(os.environ["KERAS_DISTRIBUTION_PROCESS_ID"])).normal(size=(64, 8)).astype("float32")
    class Mark(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            open(os.environ["STEP_MARK"], "w").close()
    model.fit(x, (x[:, 0] > 0).astype("int32"), batch_size=8, epochs=100000, verbose=0, callbacks=[Mark()])
""")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MEMTUI_TRAINER_MODULE"}
    env["KERAS_BACKEND"] = "jax"
    return env


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"distributed_stop: no {what} after {timeout:.0f} s")
        time.sleep(0.05)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _kill_and_time(pids: list[int], limit: float) -> float:
    """SIGKILL rank 1; seconds until rank 0 has ended (capped at `limit`)."""
    killed = time.monotonic()
    os.kill(pids[1], signal.SIGKILL)
    while not _gone(pids[0]):
        if time.monotonic() - killed > limit:
            break
        time.sleep(0.01)
    return time.monotonic() - killed


def _trainer_args(data: Path) -> list[str]:
    return ["--backend", "jax", "--workers", "2", "--data", str(data), "--image-size", "16", "--batch-size", "4",
            "--epochs", "1", "--steps-per-epoch", "100000"]


def under_memtui(tmp: Path, data: Path) -> float:
    runs = tmp / "runs"
    proc = subprocess.Popen([PY, "-m", "tui.cli", "run", "--headless", "--runs-dir", str(runs), *_trainer_args(data)],
                            cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    try:
        def stepping() -> bool:
            return any('"step"' in p.read_text() for p in runs.glob("*/events.rank1.jsonl"))

        _wait(stepping, 300, "step from rank 1")
        (workers,) = runs.glob("*/workers.json")
        pids = [w["pid"] for w in json.loads(workers.read_text())["workers"]]
        seconds = _kill_and_time(pids, 200)
        proc.wait(timeout=120)
        return seconds
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _by_hand(argv_of: Callable[[int], list[str]], marks: list[Path], cwd: Path, extra: dict[str, str]) -> float:
    address = f"127.0.0.1:{free_port()}"
    procs = [subprocess.Popen(argv_of(rank), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              stdin=subprocess.DEVNULL,
                              env={**_env(), **extra, "STEP_MARK": str(marks[rank]),
                                   **worker_env(rank, 2, address, None)})
             for rank in range(2)]
    try:
        _wait(marks[1].exists, 300, "step from rank 1")
        return _kill_and_time([p.pid for p in procs], 200)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def trainer_by_hand(tmp: Path, data: Path) -> float:
    run = tmp / "hand-run"
    run.mkdir()
    marks = [run / "events.jsonl", run / "events.rank1.jsonl"]
    # The events file exists from the trainer's start; wait for a step in it.
    address = f"127.0.0.1:{free_port()}"
    procs = [subprocess.Popen([PY, "-m", "trainer", "--run-dir", str(run), *_trainer_args(data)], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                              env={**_env(), **worker_env(rank, 2, address, None)})
             for rank in range(2)]
    try:
        _wait(lambda: marks[1].exists() and '"step"' in marks[1].read_text(), 300, "step from rank 1")
        return _kill_and_time([p.pid for p in procs], 200)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def keras_by_hand(tmp: Path, data: Path) -> float:
    script = tmp / "plain_keras.py"
    script.write_text(KERAS_SCRIPT)
    marks = [tmp / "mark0", tmp / "mark1"]
    return _by_hand(lambda rank: [PY, str(script)], marks, tmp, {})


MODES = {"memtui": under_memtui, "trainer": trainer_by_hand, "keras": keras_by_hand}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="memtui,trainer,keras", help="comma-separated: memtui, trainer, keras")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="memtui-dstop-") as name:
        tmp = Path(name)
        data = make_image_folder(tmp / "data", classes=3, per_class=4, size=16)
        for mode in args.modes.split(","):
            seconds = MODES[mode](tmp, data)
            print(f"{mode:>8}: rank 1 SIGKILLed -> rank 0 gone after {seconds:.2f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
