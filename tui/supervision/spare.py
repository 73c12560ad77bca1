"""A warm spare trainer: the next attempt's process, started before it is needed.

A relaunch after an out-of-memory ending used to be a whole cold start, most
of it Python importing TensorFlow and Keras. A fresh process per attempt stays
(TensorFlow never gives its allocator pool back); the import moves earlier.

Processes, the same shape as a cold attempt (docs/DESIGN.md)::

    memtui ──spawn (new session)──► reaper --spare RUN MODULE ──► python -m trainer.spare MODULE RUN
                 stdin: the job ──►                     stdin ──►
            ◄── stdout: "ready {...}"              ◄── stdout

RUN is the folder the next attempt will get: its id is reserved now, the folder
is created only at the hand-over, so the spare never appears as a run, while
the command lines already name it (liveness checks and `attach` find the
processes by the run folder in their command line, as for a cold attempt).

* Hand-over: `Spare.hand_over` writes one JSON line (environment, working
  folder) to the spare reaper, which from then on is an ordinary reaper:
  trainer.pid, wait, exit.json, the group and session it already has, so stop
  escalation works unchanged.
* The spare dies with memtui: EOF on the reaper's stdin (memtui quit, lost its
  terminal or was SIGKILLed: the kernel closes the pipe) ends the spare before
  its job; the child also has PR_SET_PDEATHSIG on the reaper.
* It never initialises a device and holds no GPU memory (trainer/spare.py).
* Settings read when TensorFlow is imported (`IMPORT_TIME_ENV`) cannot change in
  a process that has imported it: an attempt that needs other values starts
  cold, and `compatible` says why in words.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from trainer.config import RunConfig
from tui.common import procctl

READY_TIMEOUT = 120.0  # seconds from spawn to "ready": a spare slower than this is taken as hung
READY_TIMEOUT_ENV = "MEMTUI_SPARE_READY_TIMEOUT"

# Environment that only takes effect before `import tensorflow` (or before the
# interpreter starts), checked against TF 2.21 on this project's CPU machine
# and TensorFlow's sources:
# - TF_CPP_MIN_LOG_LEVEL: the C++ log level is read once, at the first log
#   line, and TensorFlow logs while importing (the oneDNN and cudart lines).
# - TF_ENABLE_ONEDNN_OPTS: read while the library loads ("oneDNN custom
#   operations are on" is printed by `import tensorflow`). The trainer sets it
#   to 0 under --host-memory-limit, so the spare is started with the value the
#   next config needs (`import_env`).
# - CUDA_VISIBLE_DEVICES: read by the CUDA driver in cuInit. Seen here: the
#   import only loads libcudart ("Could not find cuda drivers") and cuInit runs
#   at the first `list_physical_devices`, which the spare never calls, so a new
#   value would probably still work; it is kept here to be safe until checked
#   on a GPU machine (which GPUs a run uses must not be a guess).
# - PYTHONPATH, PYTHONHASHSEED, LD_LIBRARY_PATH, LD_PRELOAD, KERAS_BACKEND,
#   TF_USE_LEGACY_KERAS, TF_XLA_FLAGS: read by the interpreter, the dynamic
#   loader or at import. KERAS_BACKEND comes from the config's --backend
#   (`import_env`): a spare is of one backend, started beside an attempt of
#   that backend; an attempt of the other starts cold, and `compatible` says so.
# JAX's XLA_PYTHON_CLIENT_PREALLOCATE and XLA_PYTHON_CLIENT_MEM_FRACTION are
# not here: JAX reads them when its GPU client starts (jaxlib's
# generate_pjrt_gpu_plugin_options), at the first use of a device, which in a
# spare comes after the hand-over (checked: `import keras` on the JAX backend
# starts no JAX backend).
# Not here, because they are read when the devices are initialised, which in
# the spare happens after the hand-over: TF_FORCE_GPU_ALLOW_GROWTH (memory
# growth; gpu_device.cc) and TF_GPU_ALLOCATOR (gpu_process_state.cc, when the
# GPU allocator is created). RLIMIT_AS, the GPU cap and the precision policy
# are set by the trainer's main after the hand-over, as in a cold start.
IMPORT_TIME_ENV = (
    "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "CUDA_VISIBLE_DEVICES", "PYTHONPATH", "PYTHONHASHSEED",
    "LD_LIBRARY_PATH", "LD_PRELOAD", "KERAS_BACKEND", "TF_USE_LEGACY_KERAS", "TF_XLA_FLAGS",
    "MEMTUI_SPARE_WARM",
)


def import_env(config: RunConfig | None, environ: Mapping[str, str]) -> dict[str, str]:
    """The import-time environment a cold trainer for `config` would import TensorFlow
    under: `environ` plus what trainer.memory.prepare_environment sets."""
    env = {k: environ[k] for k in IMPORT_TIME_ENV if k in environ}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    if config is not None and config.host_memory_limit is not None:
        env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if config is not None:
        # The trainer sets KERAS_BACKEND from --backend whatever it inherits: a
        # spare imports Keras on the backend of the attempt it was started beside.
        env["KERAS_BACKEND"] = config.backend
    return env


def ready_timeout() -> float:
    try:
        return float(os.environ.get(READY_TIMEOUT_ENV, READY_TIMEOUT))
    except ValueError:
        return READY_TIMEOUT


class Spare:
    """One spare: its reaper's Popen, the reserved run folder and its ready state."""

    def __init__(self, run_path: Path, module: str, config: RunConfig | None, log_path: Path) -> None:
        self.run_path = run_path
        self.module = module
        self.log_path = log_path
        self.env = {**os.environ, **import_env(config, os.environ)}
        self.imports = import_env(config, self.env)
        self.started = time.monotonic()
        self.ready = threading.Event()
        self.dead = threading.Event()
        self.info: dict[str, Any] = {}
        self.death: str | None = None
        self.handed_over = False
        with open(log_path, "ab") as log:
            self.popen: subprocess.Popen[bytes] = subprocess.Popen(
                [sys.executable, "-m", "tui.supervision.reaper", "--spare", str(run_path), module],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, start_new_session=True,
                close_fds=True, env=self.env,
            )
        self._reader = threading.Thread(target=self._read, args=(self.popen.stdout,), name="spare-ready",
                                        daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def trainer_pid(self) -> int | None:
        pid = self.info.get("pid")
        return pid if isinstance(pid, int) else None

    def _read(self, stream: IO[bytes] | None) -> None:
        if stream is None:
            return
        for raw in stream:
            line = raw.decode(errors="replace").strip()
            if line.startswith("ready"):  # {"pid", "import_seconds", "devices_initialised", "rss"}
                with contextlib.suppress(ValueError):
                    self.info = json.loads(line[len("ready"):].strip() or "{}")
                self.ready.set()
            elif line.startswith("dead"):
                self.death = f"its trainer process ended before it was needed (exit {line[4:].strip()})"
        if not self.handed_over:
            self.death = self.death or "it ended before it was needed"
            self.dead.set()
        stream.close()

    def alive(self) -> bool:
        """The reaper runs and, once ready, its trainer child too (not a zombie)."""
        if self.dead.is_set() or self.popen.poll() is not None:
            return False
        pid = self.trainer_pid
        if pid is None:
            return True
        import psutil

        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def wait_ready(self, timeout: float) -> bool:
        """True once ready; False when it died or `timeout` seconds after its spawn passed."""
        deadline = self.started + timeout
        while not self.ready.is_set():
            if not self.alive():
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.ready.wait(min(left, 0.05))
        return self.alive()

    def compatible(self, config: RunConfig, module: str) -> str | None:
        """Why this spare cannot run `config`, in words; None when it can."""
        if module != self.module:
            return f"the trainer module changed ({self.module} → {module})"
        wanted = import_env(config, os.environ)
        for key in sorted(set(wanted) | set(self.imports)):
            if wanted.get(key) != self.imports.get(key):
                reader = "Keras chooses its backend" if key == "KERAS_BACKEND" else "TensorFlow reads it"
                return (f"{key} changed ({self.imports.get(key, 'unset')} → {wanted.get(key, 'unset')}), "
                        f"and {reader} when it is imported")
        return None

    def hand_over(self, spare_log: Path | None = None) -> None:
        """Give the spare its attempt: RUN exists now (config.json, meta.json)."""
        job = {"env": dict(os.environ), "cwd": os.getcwd(), "spare_log": str(spare_log or self.log_path)}
        self.handed_over = True
        assert self.popen.stdin is not None
        self.popen.stdin.write((json.dumps(job) + "\n").encode())
        self.popen.stdin.flush()
        self.popen.stdin.close()

    def discard(self) -> None:
        """End the spare and its child; never blocks for long."""
        self.handed_over = False
        with contextlib.suppress(OSError, ValueError):
            if self.popen.stdin is not None:
                self.popen.stdin.close()  # EOF: the reaper kills its child and exits
        procctl.signal_group(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=2.0)
        with contextlib.suppress(OSError):
            self.log_path.unlink()

    def rss(self) -> int:
        """Resident bytes of the spare's processes (reaper and child)."""
        import psutil

        total = 0
        for pid in (self.popen.pid, self.trainer_pid):
            if pid is None:
                continue
            with contextlib.suppress(psutil.Error):
                total += psutil.Process(pid).memory_info().rss
        return total

    def pids(self) -> tuple[int, ...]:
        return tuple(p for p in (self.popen.pid, self.trainer_pid) if p is not None)
