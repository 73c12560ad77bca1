"""The reaper: starts the trainer, waits for it, and records how it ended.

`python -m tui.supervision.reaper RUN` runs in its own process session (memtui spawns it
with start_new_session=True). It is the parent of the trainer, so it is the one
process that always learns the trainer's exit status, and it writes that to
`RUN/exit.json` even when memtui has died or detached. Standard library only,
so it starts in a few tens of milliseconds.

The supervisor signals the whole process group to stop a run; the reaper
shrugs those signals off and lets the trainer decide how to end. It installs
no-op handlers rather than SIG_IGN on purpose: an ignored signal stays ignored
across exec, so the trainer would never see SIGINT, while a handler is reset to
the default in the child.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from trainer.runfiles import EXIT_FILE, LOG_FILE, META_FILE, PID_FILE, write_json_atomic

MODULE_ENV = "MEMTUI_TRAINER_MODULE"


def _shrug(signum: int, frame: object) -> None:
    """Outlive the group's stop signals; the trainer handles them."""


def trainer_module(run_dir: Path) -> str:
    """meta.json names the module; the environment and "trainer" are fallbacks."""
    try:
        meta = json.loads((run_dir / META_FILE).read_text(encoding="utf-8"))
        module = meta.get("trainer_module")
        if isinstance(module, str) and module:
            return module
    except (OSError, ValueError, AttributeError):
        pass
    return os.environ.get(MODULE_ENV) or "trainer"


def exit_record(returncode: int | None, error: str | None = None) -> dict[str, Any]:
    """Popen-style returncode (negative: killed by that signal) plus the signal's name."""
    name = None
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
    record: dict[str, Any] = {"returncode": returncode, "signal": name, "ended": round(time.time(), 6)}
    if error:
        record["error"] = error
    return record


def reap(run_dir: Path) -> int:
    module = trainer_module(run_dir)
    with open(run_dir / LOG_FILE, "ab", buffering=0) as log:
        try:
            child = subprocess.Popen(
                [sys.executable, "-m", module, "--run-dir", str(run_dir)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            log.write(f"memtui reaper: cannot start {module}: {exc}\n".encode())
            write_json_atomic(run_dir / EXIT_FILE, exit_record(None, f"cannot start {module}: {exc}"))
            return 1
    tmp = run_dir / f".{PID_FILE}.tmp"
    tmp.write_text(f"{child.pid}\n", encoding="ascii")
    os.replace(tmp, run_dir / PID_FILE)
    returncode = child.wait()
    write_json_atomic(run_dir / EXIT_FILE, exit_record(returncode))
    return 0


def main(argv: list[str] | None = None) -> int:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _shrug)
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tui.supervision.reaper RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(args[0]).resolve()
    if not run_dir.is_dir():
        print(f"memtui reaper: {run_dir} is not a run folder", file=sys.stderr)
        return 2
    return reap(run_dir)


if __name__ == "__main__":
    sys.exit(main())
