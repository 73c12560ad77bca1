"""The user's script as one worker of a group (`memtui --workers N -- python train.py`).

memtui's reaper started N copies of the command, each with Keras'
distribution variables (trainer/distributed.py). When the script imports
Keras, before it can build or compute anything, `join` connects this process
to the group (`keras.distribution.initialize()`) and sets `DataParallel`
over every device of every process. A script that sets a distribution of its
own later (`keras.distribution.set_distribution(...)`, or a `scope()`)
replaces memtui's: its choice wins. Each process feeds its own share of the
global batch, as the built-in trainer's workers do: NumPy arrays sliced by
rank (`x[rank::world]`), a `tf.data` dataset `.shard(world, rank)`. Keras'
auto-sharding is off (auto_shard_dataset=False): with it on, Keras 3.15 refuses
NumPy input outright in a multi-process run.

Unlike the rest of the hook this does not fail open: a worker that could not
join would train alone on its own, which is not what was asked. It says why
in one line and ends the process (exit 2), and the reaper stops the group.

A worker whose script dies of an exception leaves at once after Python has
printed the traceback: JAX's exit-time shutdown barrier would otherwise wait
for the other workers, which wait in a collective for this one, until JAX's
heartbeat gives up (about 70 s, measured with JAX 0.10.2).
"""

from __future__ import annotations

import os
import sys
from types import ModuleType, TracebackType
from typing import Any

from _memtui_hook.trainer_files import load

_distributed = load("distributed")


def events_name() -> str:
    """This process's events file: its rank's in a group, else the run's own."""
    worker = _distributed.this_worker()
    return _distributed.events_name(worker.rank if worker is not None else 0)


def join(keras: ModuleType, hook: Any) -> None:
    worker = _distributed.this_worker()
    if worker is None or not hook.active():
        return
    try:
        backend = str(keras.backend.backend())
        if backend != "jax":
            _leave(worker, f"--workers needs Keras on JAX, and this script's Keras runs on {backend}; "
                           "run it with KERAS_BACKEND=jax")
        keras.distribution.initialize()
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(devices=keras.distribution.list_devices(), auto_shard_dataset=False))
    except Exception as exc:
        _leave(worker, f"could not join the group of {worker.world}: {type(exc).__name__}: {exc}")
    hook.notes.append(f"worker {worker.rank} of {worker.world}: DataParallel over "
                      f"{len(keras.distribution.list_devices())} devices, unless the script sets its own")
    _exit_at_once_on_failure()


def _leave(worker: Any, why: str) -> None:
    print(f"memtui hook: worker {worker.rank}: {why}", file=sys.stderr, flush=True)
    os._exit(2)


def _exit_at_once_on_failure() -> None:
    previous = sys.excepthook

    def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        previous(kind, exc, tb)  # the script's own traceback, as without memtui
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(130 if issubclass(kind, KeyboardInterrupt) else 1)

    sys.excepthook = excepthook
