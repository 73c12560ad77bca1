"""Host memory and the trainer's process tree, read from real processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.treeproc import MIB, start_tree, stop_tree
from tests.waiting import wait_until
from tui.telemetry.host import ProcessTree, read_host_memory
from tui.telemetry.sampler import read_once


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[subprocess.Popen]:
    proc = start_tree(tmp_path / "tree", parent_mib=48, child_mib=32)
    yield proc
    stop_tree(proc)


def psutil_tree_rss(root: int) -> tuple[set[int], int]:
    procs = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
    return {p.pid for p in procs}, sum(p.memory_info().rss for p in procs)


def test_trainer_rss_matches_psutil_reading_of_the_real_tree(tree: subprocess.Popen) -> None:
    usage = ProcessTree(tree.pid).sample()
    pids, rss = psutil_tree_rss(tree.pid)

    assert usage is not None
    assert set(usage.pids) == pids and len(pids) == 2
    assert usage.rss_bytes == pytest.approx(rss, rel=0.02)
    assert usage.rss_bytes > 80 * MIB  # the 48 + 32 MiB the two processes hold


def test_one_shot_reading_reports_the_run_tree(tree: subprocess.Popen) -> None:
    snapshot = read_once(run_pid=tree.pid)
    _, rss = psutil_tree_rss(tree.pid)

    assert snapshot.trainer is not None
    assert snapshot.trainer.rss_bytes == pytest.approx(rss, rel=0.02)


def test_cpu_percent_is_measured_between_samples_of_the_same_processes(tree: subprocess.Popen) -> None:
    watched = ProcessTree(tree.pid)
    first = watched.sample()
    second = watched.sample()

    assert first is not None and second is not None
    assert second.cpu_percent >= 0.0  # sleeping processes: a number, not an error


def test_a_tree_whose_root_ended_is_no_longer_a_live_run(tmp_path: Path) -> None:
    proc = start_tree(tmp_path / "tree", parent_mib=1, child_mib=1)
    watched = ProcessTree(proc.pid)
    assert watched.sample() is not None

    stop_tree(proc)

    assert watched.sample() is None


def test_a_child_started_after_the_first_sample_is_counted_at_the_next(tmp_path: Path) -> None:
    """The reaper starts the trainer a moment after memtui starts watching the reaper."""
    flag = tmp_path / "go"
    code = ("import os, subprocess, sys, time\n"
            f"while not os.path.exists({str(flag)!r}): time.sleep(0.01)\n"
            "subprocess.run([sys.executable, '-c', 'x = bytearray(64 << 20); import time; time.sleep(60)'])\n")
    root = subprocess.Popen([sys.executable, "-c", code])
    try:
        watched = ProcessTree(root.pid)  # the default rescan interval: seconds
        first = watched.sample()
        assert first is not None and first.pids == (root.pid,)
        flag.write_text("")
        wait_until(lambda: len(root_children(root.pid)) == 1, what="the child")
        child = root_children(root.pid)[0]
        wait_until(lambda: child.memory_info().rss > 64 * MIB, what="the child's memory")
        second = watched.sample()
        assert second is not None and child.pid in second.pids and second.rss_bytes > 64 * MIB
    finally:
        for proc in root_children(root.pid):
            proc.kill()
        root.kill()
        root.wait()


def root_children(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children()


def test_host_memory_matches_proc_meminfo() -> None:
    with open("/proc/meminfo") as handle:
        meminfo = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in handle}
    host = read_host_memory()

    assert host.total_bytes == pytest.approx(meminfo["MemTotal"], rel=0.05)
    assert host.available_bytes == pytest.approx(meminfo["MemAvailable"], rel=0.05)
    assert host.swap_total_bytes == meminfo["SwapTotal"]
    assert host.used_bytes == host.total_bytes - host.available_bytes


@pytest.mark.tf
def test_trainer_rss_matches_psutil_during_a_real_training_run(tmp_path: Path) -> None:
    import statistics
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "trainer", "--run-dir", str(tmp_path / "run"), "--image-size", "16",
         "--batch-size", "2", "--epochs", "1", "--steps-per-epoch", "3"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    watched = ProcessTree(proc.pid, rescan_every=0.0)
    gaps: list[float] = []
    try:
        while proc.poll() is None:
            usage = watched.sample()
            try:
                pids, rss = psutil_tree_rss(proc.pid)
            except psutil.Error:
                break  # the trainer ended between the two readings
            if usage is not None and set(usage.pids) == pids and rss > 200 * MIB:  # TensorFlow is loaded
                gaps.append(abs(usage.rss_bytes - rss) / rss)
            time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait()

    assert gaps, "the trainer ended before it could be measured"
    assert statistics.median(gaps) < 0.03
