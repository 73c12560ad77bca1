"""A real process tree holding known memory, standing in for a trainer and its workers."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil

MIB = 1024**2

_CHILD = """
import pathlib, sys, time
block = b"y" * (int(sys.argv[2]) * 2**20)
pathlib.Path(sys.argv[1]).write_text("ready")
time.sleep(600)
"""

_PARENT = """
import pathlib, subprocess, sys, time
folder = pathlib.Path(sys.argv[1])
block = b"x" * (int(sys.argv[2]) * 2**20)
child = subprocess.Popen([sys.executable, "-c", sys.argv[4], str(folder / "child"), sys.argv[3]])
(folder / "parent").write_text("ready")
time.sleep(600)
"""


def start_tree(folder: Path, parent_mib: int = 48, child_mib: int = 32, timeout: float = 60) -> subprocess.Popen:
    """Start parent (holding `parent_mib`) -> child (holding `child_mib`); return once both hold it."""
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", _PARENT, str(folder), str(parent_mib), str(child_mib), _CHILD],
    )
    deadline = time.monotonic() + timeout
    while not ((folder / "parent").exists() and (folder / "child").exists()):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_tree(proc)
            raise RuntimeError("the test process tree did not start")
        time.sleep(0.05)
    return proc


def stop_tree(proc: subprocess.Popen) -> None:
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    for p in [*children]:
        try:
            p.kill()
        except psutil.Error:
            pass
    proc.kill()
    proc.wait()
    psutil.wait_procs(children, timeout=5)
