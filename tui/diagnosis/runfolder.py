"""Everything a run folder holds for the diagnosis, read defensively.

A run folder may be half written (the trainer died mid-line, the reaper never
wrote exit.json, meta.json is from an older memtui): each file that cannot be
read is left out and the diagnosis works with the rest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trainer.config import ConfigError, RunConfig
from trainer.protocol import Event, decode
from trainer.runfiles import CONFIG_FILE, EVENTS_FILE, EXIT_FILE, LOG_FILE, META_FILE
from tui.diagnosis import tail_text
from tui.telemetry.snapshot import Snapshot

RUN_FILES = (LOG_FILE, EVENTS_FILE, EXIT_FILE)
_MAX_EVENTS_BYTES = 4 * 1024 * 1024  # the newest events are what matter


def is_run_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in RUN_FILES)


def read_events(path: Path, max_bytes: int = _MAX_EVENTS_BYTES) -> list[Event]:
    """The valid events of an events.jsonl tail; garbage lines are skipped."""
    text = tail_text(path, max_bytes)
    return [e for e in map(decode, text.splitlines()) if isinstance(e, Event)]


def read_exit_code(path: Path) -> int | None:
    """Popen's convention from exit.json (`returncode`, or -`signal`)."""
    data = _json(path)
    if not isinstance(data, dict):
        return None
    code = data.get("returncode")
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    sig = data.get("signal")
    if isinstance(sig, int) and not isinstance(sig, bool) and sig > 0:
        return -sig
    return None


def read_baseline(path: Path) -> Snapshot | None:
    data = _json(path)
    if not isinstance(data, dict) or not isinstance(data.get("baseline"), dict):
        return None
    from tui.telemetry.jsonform import snapshot_from_dict

    try:
        return snapshot_from_dict(data["baseline"])
    except ValueError:
        return None


def read_config(path: Path) -> RunConfig | None:
    try:
        return RunConfig.load(path) if path.is_file() else None
    except ConfigError:
        return None


def diagnosis_inputs(run: Path) -> dict[str, Any]:
    """Keyword arguments for `diagnose` from a run folder."""
    return {
        "exit_code": read_exit_code(run / EXIT_FILE),
        "log_tail": tail_text(run / LOG_FILE),
        "events": read_events(run / EVENTS_FILE),
        "config": read_config(run / CONFIG_FILE),
        "baseline": read_baseline(run / META_FILE),
    }


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
