"""Process checks and signals for run process groups.

A pid in a run folder may be stale: the process ended and the number was
reused. So "is this run live" always checks that the process is really ours,
by finding the run folder in its command line (both the reaper and the trainer
carry it), and a zombie counts as gone.
"""

from __future__ import annotations

import os
import signal

import psutil


def is_our_process(pid: int | None, needle: str) -> bool:
    """True when `pid` is running (not a zombie) and its command line mentions `needle`."""
    if not pid or pid <= 0:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return any(needle in part for part in proc.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return False


def group_members(pgid: int) -> list[int]:
    """Pids of the live (non-zombie) processes in process group `pgid`."""
    found = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if os.getpgid(proc.info["pid"]) == pgid:
                found.append(proc.info["pid"])
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return found


def signal_group(pgid: int, signum: int) -> bool:
    """Send `signum` to the group; False when the group is already gone."""
    try:
        os.killpg(pgid, signum)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return False


def signal_pid(pid: int, signum: int) -> bool:
    try:
        os.kill(pid, signum)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def signal_name(returncode: int | None) -> str | None:
    """SIGKILL for -9; None for a normal exit."""
    if returncode is None or returncode >= 0:
        return None
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"
