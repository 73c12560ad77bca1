"""`python -m trainer.spare MODULE RUN_DIR`: a trainer started ahead of time.

The child of a spare reaper (`tui/supervision/reaper.py --spare`). It imports
what the trainer needs (TensorFlow, Keras, `trainer.run`) while the current
attempt trains, says so with one line on stdout, and waits for its job on
stdin: one JSON line with the environment and working folder the attempt
would have had. Then it runs `python -m MODULE --run-dir RUN_DIR` in this very
process (runpy), so the attempt pays for its steps, not for the import.

What it must not do while it waits: touch a device. `import tensorflow` does
not initialise CUDA or any device; listing physical devices, creating a
tensor or a model does. So nothing here calls `tf.config` or builds anything:
memory growth, the per-GPU cap, the precision policy and the address-space
limit are all applied by the trainer's own `main` after the job arrives,
exactly as in a cold start. The ready line reports whether TensorFlow's eager
context (which owns the devices) is still uninitialised, and tests check it.

Settings TensorFlow reads at import time cannot change after this process has
imported it; the supervisor compares them (`tui.supervision.spare.IMPORT_TIME_ENV`)
and starts such an attempt cold.

The spare dies with its reaper: PR_SET_PDEATHSIG while it waits (the reaper is
single-threaded, so "the thread that forked us" is the reaper itself), and EOF
on stdin ends it too. Both are undone once the job arrives, so an attempt
outlives memtui and its reaper the way a cold one does.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import runpy
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from trainer import framework_internals

WARM_ENV = "MEMTUI_SPARE_WARM"  # comma-separated modules to import instead of the defaults (tests)
# What each trainer module imports ahead of time. trainer.run imports TensorFlow,
# Keras and the trainer's own modules; none of them touches a device at import.
# Keras imports the backend KERAS_BACKEND names (the spare's environment has the
# attempt's --backend): with jax, `import jax` and no JAX backend started.
WARM: dict[str, tuple[str, ...]] = {"trainer": ("tensorflow", "keras", "trainer.run")}
LOG_FILE = "trainer.log"
PR_SET_PDEATHSIG = 1


def _pdeathsig(signum: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: EOF on stdin still ends the spare
        pass


def warm_modules(module: str) -> tuple[str, ...]:
    given = os.environ.get(WARM_ENV)
    if given is not None:
        return tuple(m for m in given.split(",") if m)
    return WARM.get(module, ())


def devices_initialised() -> bool | None:
    """Whether TensorFlow's eager context exists (it owns the devices) or, on
    the JAX backend, JAX started a backend; None without either library."""
    answers = [_tf_devices_initialised(), _jax_devices_initialised()]
    if True in answers:
        return True
    return None if all(a is None for a in answers) else False


def _tf_devices_initialised() -> bool | None:
    return framework_internals.tf_devices_initialised()


def _jax_devices_initialised() -> bool | None:
    return framework_internals.jax_devices_initialised()


def _rss() -> int:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _take_log(run_dir: Path, spare_log: str | None) -> int:
    """fd of RUN/trainer.log, with what this spare printed while importing copied in first."""
    fd = os.open(run_dir / LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    if spare_log:
        try:
            with open(spare_log, "rb") as fh:
                os.write(fd, fh.read())
            os.unlink(spare_log)
        except OSError:
            pass
    return fd


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m trainer.spare MODULE RUN_DIR", file=sys.stderr)
        return 2
    module, run_dir = args[0], Path(args[1])
    parent = os.getppid()
    _pdeathsig(signal.SIGKILL)
    if os.getppid() != parent:  # the reaper died before the line above
        return 0
    started = time.monotonic()
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        from trainer.backends import keep_jax_out

        keep_jax_out()  # as the trainer does on TensorFlow (trainer.memory.prepare_environment)
    for name in warm_modules(module):
        importlib.import_module(name)
    ready = {"pid": os.getpid(), "import_seconds": round(time.monotonic() - started, 3),
             "devices_initialised": devices_initialised(), "rss": _rss()}
    os.write(1, f"ready {json.dumps(ready)}\n".encode())
    line = sys.stdin.buffer.readline()
    if not line:
        return 0  # discarded, or memtui and the reaper are gone
    job = json.loads(line)
    _pdeathsig(0)
    os.environ.clear()
    os.environ.update(job["env"])
    os.chdir(job["cwd"])
    log = _take_log(run_dir, job.get("spare_log"))
    devnull = os.open(os.devnull, os.O_RDONLY)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(devnull)
    sys.argv = [module, "--run-dir", str(run_dir)]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
