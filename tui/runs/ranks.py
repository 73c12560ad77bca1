"""Each worker of a group, read from the run folder: its record and its newest step.

Rank 0's events are the run's own `events.jsonl`; rank k writes
`events.rank{k}.jsonl` (trainer/distributed.py), and a worker on another host
has its events written there by memtui's side of its SSH connection. The
screen shows the slowest worker's step beside rank 0's, and `memtui runs`
lists every worker of a finished group.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainer.distributed import events_name
from trainer.runfiles import EXIT_FILE, read_json_object

TAIL_BYTES = 16 * 1024  # the newest steps of a file: steps are coalesced, a few lines a second
WORKERS_FILE = "workers.json"  # the group's reaper (tui/supervision/group.py): each worker's rank, pid, host, files


def last_step(path: Path) -> int | None:
    """The global step of the newest step event in `path` (None: none yet)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - TAIL_BYTES))
            lines = fh.read().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if b'"step"' not in line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut by the tail's start, or still being written
        if isinstance(event, dict) and event.get("type") == "step" and isinstance(event.get("global_step"), int):
            return int(event["global_step"])
    return None


def rank_steps(run_dir: Path, world: int) -> dict[int, int]:
    """Each rank's newest step, for the ranks that have one."""
    steps = {rank: last_step(run_dir / events_name(rank)) for rank in range(world)}
    return {rank: step for rank, step in steps.items() if step is not None}


def slowest(steps: dict[int, int]) -> tuple[int, int] | None:
    """The rank furthest behind and its step (the lowest rank among equals); None without steps."""
    if not steps:
        return None
    rank = min(steps, key=lambda r: (steps[r], r))
    return rank, steps[rank]


def worker_records(run_dir: Path) -> list[dict[str, Any]]:
    """Every worker of a group with how it ended (once ended) and its newest step; [] for one process."""
    ended = (read_json_object(run_dir / EXIT_FILE) or {}).get("workers")
    started = (read_json_object(run_dir / WORKERS_FILE) or {}).get("workers")
    records = ended if isinstance(ended, list) else started if isinstance(started, list) else []
    out = []
    for w in records:
        if not isinstance(w, dict) or not isinstance(w.get("rank"), int):
            continue
        keep = ("rank", "host", "pid", "returncode", "signal", "stopped_by_group", "lost_connection")
        out.append({**{k: w.get(k) for k in keep if k in w},
                    "steps": last_step(run_dir / str(w.get("events") or events_name(w["rank"])))})
    return out
