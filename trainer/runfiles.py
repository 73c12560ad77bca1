"""The files of one run folder, named once for every process that reads or writes them.

The trainer writes events and its log, the reaper the pid and the exit, memtui
the rest. Stdlib only and tiny: the reaper imports it and must start fast.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.json"  # memtui: the attempt's settings
META_FILE = "meta.json"  # memtui: session, attempt, reason, kind, baseline
EVENTS_FILE = "events.jsonl"  # the trainer: protocol lines
LOG_FILE = "trainer.log"  # the trainer: stdout and stderr
PID_FILE = "trainer.pid"  # the reaper: the trainer's pid
EXIT_FILE = "exit.json"  # the reaper: how the process ended
VERDICT_FILE = "verdict.json"  # memtui: the diagnosis
LOCK_FILE = "control.lock"  # memtui: held by the screen that controls the run


def read_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON object file's content; None when it is missing, unreadable, not JSON or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write-then-rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        # A full disk: leave no half-written temporary file taking what space is left.
        tmp.unlink(missing_ok=True)
        raise
