"""memtui's own record of the hook: RUN_DIR/hook.log, never the script's output.

The script's stdout and stderr are its own: under memtui they hold what they
hold without it. What the hook has to say (its own failures, each once per
place, and what it did at an out-of-memory ending) goes to hook.log in the
run folder, beside events.jsonl; only when that file cannot be written does
a line go to stderr, so nothing is lost. The events themselves go through
the trainer's own writer (trainer/eventlog.py, loaded by path).
"""

from __future__ import annotations

import os
import sys
import time

from _memtui_hook.trainer_files import load

HOOK_LOG = "hook.log"
EventWriter = load("eventlog").EventLog


class Problems:
    """memtui's own errors: one hook.log line per place, and the messages for
    the next run_end's `hook_errors`."""

    def __init__(self, run_dir: str | None = None) -> None:
        self.path = os.path.join(run_dir, HOOK_LOG) if run_dir else None
        self.seen: set[str] = set()
        self.messages: list[str] = []

    def report(self, where: str, exc: BaseException, consequence: str) -> None:
        if where in self.seen:
            return
        self.seen.add(where)
        message = f"{where}: {type(exc).__name__}: {exc}"[:500]
        self.messages.append(message)
        self.note(f"internal error in {message}; {consequence}")

    def note(self, line: str) -> None:
        text = f"memtui hook: {line}\n"
        if self.path is not None:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
                try:
                    os.write(fd, f"{time.strftime('%H:%M:%S')} {text}".encode())
                finally:
                    os.close(fd)
                return
            except OSError:
                pass
        try:
            sys.stderr.write(text)
            sys.stderr.flush()
        except Exception:  # stderr closed: nothing else to tell
            pass
