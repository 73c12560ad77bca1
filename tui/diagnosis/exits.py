"""Reading how a process ended: its log's tail, the signal in its exit status,
and whether a stop's signals ended it."""

from __future__ import annotations

import signal as _signal
from pathlib import Path


def tail_text(path: str | Path, max_bytes: int = 64 * 1024) -> str:
    """The last `max_bytes` of a log as text ("" when it cannot be read).
    Starts at a line boundary and replaces bytes that are not UTF-8."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read(max_bytes)
    except OSError:
        return ""
    if size > max_bytes and b"\n" in data:
        data = data[data.index(b"\n") + 1 :]
    return data.decode("utf-8", errors="replace")


def signal_of(exit_code: int | None) -> int | None:
    """The signal that ended the process: Popen's -N, or a shell's 128+N.
    130 is the trainer's STOPPED code and a shell's SIGINT alike."""
    if exit_code is None:
        return None
    if exit_code < 0:
        return -exit_code
    if 128 < exit_code < 128 + 65:
        return exit_code - 128
    return None


def signal_name(sig: int) -> str:
    try:
        return f"signal {sig} ({_signal.Signals(sig).name})"
    except ValueError:
        return f"signal {sig}"


def ended_by_stop(exit_code: int | None, log_tail: str) -> bool:
    """The process ended the way a stop's signals end one: SIGINT or SIGTERM, or a
    SIGINT during the interpreter's own start-up, which ends it with exit 1 and
    "Fatal Python error: init_import_site" instead of a KeyboardInterrupt."""
    tail = (log_tail or "")[-2048:]
    return exit_code in (-2, -15) or (
        exit_code == 1 and ("KeyboardInterrupt" in tail or "Fatal Python error" in tail)
    )
