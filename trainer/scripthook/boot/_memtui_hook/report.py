"""Writing events, and reporting memtui's own failures once each.

Events go to RUN_DIR/events.jsonl with one `os.write` per line on an O_APPEND
descriptor, never to the script's stdout. Only the process that started the
hook writes: a forked child (a data-loader worker) inherits the descriptor
but its writes are dropped.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from _memtui_hook.trainer_files import load

_protocol = load("protocol")


class EventWriter:
    def __init__(self, run_dir: str, owner: int) -> None:
        self.owner = owner
        self.path = Path(run_dir) / _protocol.EVENTS_FILE
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)

    def emit(self, type_: str, **fields: Any) -> None:
        if os.getpid() != self.owner:
            return
        view = memoryview((_protocol.encode(type_, **fields) + "\n").encode("utf-8"))
        while view:
            view = view[os.write(self._fd, view):]

    def close(self) -> None:
        try:
            os.close(self._fd)
        except OSError:
            pass


class Problems:
    """memtui's own errors: one `memtui hook:` line on stderr per place, and
    the messages for the next run_end's `hook_errors`."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.messages: list[str] = []

    def report(self, where: str, exc: BaseException, consequence: str) -> None:
        if where in self.seen:
            return
        self.seen.add(where)
        message = f"{where}: {type(exc).__name__}: {exc}"[:500]
        self.messages.append(message)
        try:
            print(f"memtui hook: internal error in {message}; {consequence}", file=sys.stderr, flush=True)
        except Exception:  # stderr closed: nothing else to tell
            pass

    def note(self, line: str) -> None:
        try:
            print(f"memtui hook: {line}", file=sys.stderr, flush=True)
        except Exception:
            pass
