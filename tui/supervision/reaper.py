"""The reaper: starts the trainer, waits for it, and records how it ended.

`python -m tui.supervision.reaper RUN` runs in its own process session (memtui spawns it
with start_new_session=True). It is the parent of the trainer (or of the user's own
command, as meta.json's `launch` says: `child_command`), so it is the one
process that always learns the trainer's exit status, and it writes that to
`RUN/exit.json` even when memtui has died or detached. Standard library only,
so it starts in a few tens of milliseconds.

The supervisor signals the whole process group to stop a run; the reaper
shrugs those signals off and lets the trainer decide how to end. It installs
no-op handlers rather than SIG_IGN on purpose: an ignored signal stays ignored
across exec, so the trainer would never see SIGINT, while a handler is reset to
the default in the child.

`python -m tui.supervision.reaper --spare RUN MODULE` is the same reaper for a
warm spare (tui/supervision/spare.py): its child (`python -m trainer.spare`)
imports TensorFlow ahead of time and waits. RUN is the folder the next attempt
will get (it does not exist yet). The reaper passes the child's "ready" line on
to memtui on stdout and waits for one job line on stdin; EOF on stdin before
the job means memtui is gone (killed, quit) or discarded the spare, and the
spare ends. After the job the reaper is exactly the reaper above: trainer.pid,
wait, exit.json, same group and session.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from trainer.runfiles import EXIT_FILE, LOG_FILE, META_FILE, PID_FILE, write_json_atomic

MODULE_ENV = "MEMTUI_TRAINER_MODULE"
SPARE_CHILD = "trainer.spare"


def _shrug(signum: int, frame: object) -> None:
    """Outlive the group's stop signals; the trainer handles them."""


def _meta(run_dir: Path) -> dict[str, Any]:
    try:
        meta = json.loads((run_dir / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def trainer_module(run_dir: Path) -> str:
    """meta.json names the module; the environment and "trainer" are fallbacks."""
    module = _meta(run_dir).get("trainer_module")
    if isinstance(module, str) and module:
        return module
    return os.environ.get(MODULE_ENV) or "trainer"


def child_command(run_dir: Path) -> tuple[list[str], str | None, dict[str, str] | None, str]:
    """What to start: argv, working folder, environment (None: ours) and its name in words.

    A run of the user's own command has `launch` in meta.json (tui/kinds/script.py):
    their argv, their folder, and the variables memtui adds to the environment it
    inherited from memtui, which is theirs. Otherwise the trainer module."""
    launch = _meta(run_dir).get("launch")
    if isinstance(launch, dict):
        argv, cwd, env = launch.get("argv"), launch.get("cwd"), launch.get("env")
        if (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv) and isinstance(cwd, str)
                and isinstance(env, dict) and all(isinstance(v, str) for v in env.values())):
            return argv, cwd, {**os.environ, **env}, argv[0]
    module = trainer_module(run_dir)
    return [sys.executable, "-m", module, "--run-dir", str(run_dir)], None, None, module


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
    argv, cwd, env, name = child_command(run_dir)
    from tui.supervision import group  # --workers N: N children, one group (stdlib, like this module)

    if (workers := group.workers_of(run_dir)) > 1:
        return group.reap_group(run_dir, argv, cwd, env, name, workers)
    with open(run_dir / LOG_FILE, "ab", buffering=0) as log:
        try:
            # An argument list, never a shell string: the user's own command runs word for word as typed.
            child = subprocess.Popen([*argv], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=cwd, env=env)
        except OSError as exc:
            log.write(f"memtui reaper: cannot start {name}: {exc}\n".encode())
            write_json_atomic(run_dir / EXIT_FILE, exit_record(None, f"cannot start {name}: {exc}"))
            return 1
    _write_pid(run_dir, child.pid)
    returncode = child.wait()
    write_json_atomic(run_dir / EXIT_FILE, exit_record(returncode))
    return 0


def _write_pid(run_dir: Path, pid: int) -> None:
    tmp = run_dir / f".{PID_FILE}.tmp"
    tmp.write_text(f"{pid}\n", encoding="ascii")
    os.replace(tmp, run_dir / PID_FILE)


def _say(line: str) -> None:
    try:
        os.write(1, (line + "\n").encode())
    except OSError:  # memtui is gone; EOF on stdin will follow
        pass


def spare(run_dir: Path, module: str) -> int:
    """Keep a warm child until a job arrives, then reap it as an attempt."""
    child = subprocess.Popen(
        [sys.executable, "-m", SPARE_CHILD, module, str(run_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,  # stderr: ours, the spare's private log
    )
    assert child.stdin is not None and child.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ, "memtui")
    sel.register(child.stdout, selectors.EVENT_READ, "child")
    job = b""
    while not job:
        # The job first: a spare that died as its job arrived still gets the attempt (started cold).
        for key, _ in sorted(sel.select(timeout=1.0), key=lambda kv: kv[0].data != "memtui"):
            if job:
                break
            if key.data == "child":
                line = child.stdout.readline()
                if not line:  # the child died before its job
                    _say(f"dead {child.wait()}")
                    return 1
                _say(line.decode(errors="replace").strip())
            else:
                job = os.read(0, 1 << 16)
                if not job:  # memtui is gone, or discarded this spare
                    child.kill()
                    child.wait()
                    return 0
                while not job.endswith(b"\n"):
                    more = os.read(0, 1 << 16)
                    if not more:
                        child.kill()
                        child.wait()
                        return 0
                    job += more
        if not job and child.poll() is not None:
            if any(key.data == "memtui" for key, _ in sel.select(timeout=0)):
                continue  # its job came as it died (say, while this process was not scheduled): start it cold
            _say(f"dead {child.returncode}")
            return 1
    sel.close()
    child.stdout.close()
    # From here on this is an ordinary reaper; nothing is read from memtui any more.
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    if child.poll() is None:
        try:
            child.stdin.write(job)
            child.stdin.close()
        except OSError:  # it died this very moment
            child.wait()
    if child.returncode is not None:
        # The spare died just before its job arrived: nothing is lost, the attempt starts cold.
        with open(run_dir / LOG_FILE, "ab") as log:
            log.write(f"memtui reaper: the warm spare had ended (exit {child.returncode}); "
                      "starting the trainer cold\n".encode())
        return reap(run_dir)
    _write_pid(run_dir, child.pid)
    returncode = child.wait()
    write_json_atomic(run_dir / EXIT_FILE, exit_record(returncode))
    return 0


def main(argv: list[str] | None = None) -> int:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _shrug)
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 3 and args[0] == "--spare":
        return spare(Path(args[1]).resolve(), args[2])
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
