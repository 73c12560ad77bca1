"""Writing protocol lines to RUN/events.jsonl.

Events go straight to their own file, one `write` and flush per line, never
through stdout: TensorFlow's logging and anything model code prints land in
the log, so they cannot split or corrupt an event. Imports nothing heavy, so
the earliest failures (a bad flag, a missing folder) can still be recorded;
stdlib only with relative imports, so the script hook loads it by path and
writes its events with this same writer.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Any

from .protocol import EVENTS_FILE, encode


class EventLog:
    """Append-only protocol lines; each line reaches the file whole, in one write."""

    def __init__(self, run_dir: str | Path, owner: int | None = None, name: str = EVENTS_FILE) -> None:
        self.path = Path(run_dir) / name  # a worker of a group writes its own file (trainer/distributed.py)
        self.owner = owner  # only this pid writes (the script hook: not a forked data-loader worker)
        # O_APPEND keeps each write whole even if someone else appends too.
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)

    def emit(self, type_: str, **fields: Any) -> None:
        if self.owner is not None and os.getpid() != self.owner:
            return
        data = (encode(type_, **fields) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def error(self, exc: BaseException) -> None:
        """An `error` event: exception type, message and the last frames."""
        frames = traceback.format_exception(type(exc), exc, exc.__traceback__)
        self.emit(
            "error",
            exception=type(exc).__name__,
            message=str(exc)[:2000],
            traceback="".join(frames)[-4000:],
        )

    def close(self) -> None:
        try:
            os.close(self._fd)
        except OSError:
            pass
