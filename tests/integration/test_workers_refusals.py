"""--workers through the real commands, without JAX: the refusals in one line,
and the sampler reading each worker's rank from a real process's environment."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tui.telemetry.host import ProcessTree

REPO = Path(__file__).resolve().parents[2]


def test_tensorflow_with_workers_is_refused_in_one_line_pointing_to_jax(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "run", "--headless", "--workers", "2",
                           "--runs-dir", str(tmp_path / "runs")], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--backend jax" in lines[0] and "MultiWorkerMirroredStrategy" in lines[0], proc.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_the_trainer_refuses_workers_when_not_started_as_one_of_a_group(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "trainer", "--run-dir", str(tmp_path / "run"), "--backend", "jax",
                           "--workers", "2", "--batch-size", "4"], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    assert "not started as one worker of 2" in proc.stderr and "memtui run --backend jax --workers 2" in proc.stderr


PARENT = textwrap.dedent("""
    import os, subprocess, sys, time
    touch = "import time; x = b'x' * %d; time.sleep(60)"  # pages written: resident
    kids = [subprocess.Popen([sys.executable, "-c", touch % (rank + 1 << 24)],
                             env={**os.environ, "KERAS_DISTRIBUTION_PROCESS_ID": str(rank),
                                  "KERAS_DISTRIBUTION_NUM_PROCESSES": "2"}) for rank in range(2)]
    print(" ".join(str(k.pid) for k in kids), flush=True)
    time.sleep(60)
""")


def test_the_process_tree_names_each_workers_rank_and_its_own_memory() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        tree = ProcessTree(parent.pid, rescan_every=0.0)
        deadline = time.monotonic() + 20
        usage = tree.sample()
        while (usage is None or len(usage.workers) < 2 or usage.workers[1].rss_bytes < 32 << 20) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
            usage = tree.sample()
        assert usage is not None and [(w.rank, w.pid) for w in usage.workers] == [(0, pids[0]), (1, pids[1])]
        assert usage.workers[1].rss_bytes > usage.workers[0].rss_bytes  # 32 MiB against 16 MiB
        assert usage.rss_bytes > sum(w.rss_bytes for w in usage.workers)  # the parent counts for the run too
    finally:
        parent.kill()
        parent.wait()
        for pid in pids:
            subprocess.run(["kill", "-9", str(pid)], check=False)


