"""Start-up inside the user's Python (called by sitecustomize.py).

Reads the settings (MEMTUI_HOOK), makes sure child processes run without the
hook (this folder leaves PYTHONPATH, MEMTUI_HOOK leaves the environment),
writes RUN_DIR/hook.json, and asks for the patches when the script imports
tensorflow, jax and keras. Imports none of them.

Start-up stays small (every hooked process pays it, most of all the ones
that never train): the event writer, the protocol and the patches load only
when the script imports tensorflow or keras. They load as submodules of this
already imported package (through its own __path__), so a script that
rewrites sys.path does not lose them.
"""

from __future__ import annotations

import json
import os
import sys
from types import ModuleType
from typing import Any

from _memtui_hook.importhook import PostImportFinder
from _memtui_hook.trainer_files import load

_hookspec = load("hookspec")

SETTINGS: Any = None  # trainer/hookspec.py's HookSettings, once start() read them
OWNER = 0  # the pid that started the hook: only it reports (not forked children)
STATE: Any = None  # the HookState, made when tensorflow or keras is imported


def _leave_environment(here: str) -> None:
    parts = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    kept = [p for p in parts if p and os.path.realpath(p) != here]
    if kept:
        os.environ["PYTHONPATH"] = os.pathsep.join(kept)
    else:
        os.environ.pop("PYTHONPATH", None)
    os.environ.pop(_hookspec.ENV_VAR, None)


def _hello(run_dir: str) -> None:
    path = os.path.join(run_dir, _hookspec.HELLO_FILE)
    data = {"pid": os.getpid(), "python": sys.executable, "argv": sys.argv, "version": sys.version.split()[0]}
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def _report(where: str, exc: BaseException) -> None:
    if STATE is not None:
        STATE.problems.report(where, exc, "the script runs without it")
        return
    from _memtui_hook.report import Problems

    Problems(SETTINGS.run_dir if SETTINGS is not None else None).report(where, exc, "the script runs without it")


def start(here: str) -> None:
    global SETTINGS, OWNER
    try:
        settings = _hookspec.HookSettings.from_env()
    finally:
        _leave_environment(here)  # children run unhooked even when the settings are bad
    if settings is None:
        return
    os.makedirs(settings.run_dir, exist_ok=True)
    _hello(settings.run_dir)
    SETTINGS, OWNER = settings, os.getpid()
    finder = PostImportFinder(_report)
    finder.when_imported("tensorflow", _after_tensorflow)
    finder.when_imported("jax", _after_jax)
    finder.when_imported("keras", _after_keras)


def state() -> Any:
    """The process's HookState, made on first need (the writer opens events.jsonl)."""
    global STATE
    if STATE is None:
        from _memtui_hook.group import events_name
        from _memtui_hook.report import EventWriter, Problems
        from _memtui_hook.state import HookState

        STATE = HookState(settings=SETTINGS, writer=EventWriter(SETTINGS.run_dir, OWNER, name=events_name()),
                          problems=Problems(SETTINGS.run_dir), owner=OWNER)
    return STATE


def _after_tensorflow(tf: ModuleType) -> None:
    from _memtui_hook.devices import after_tensorflow

    after_tensorflow(tf, state())


def _after_jax(jax: ModuleType) -> None:
    if SETTINGS.gpu_memory_limit is None:
        return  # the only remedy that needs JAX loaded (growth is the launcher's variable)
    from _memtui_hook.devices import after_jax

    after_jax(jax, state())


def _after_keras(keras: ModuleType) -> None:
    from _memtui_hook import group, loops
    from _memtui_hook.devices import after_keras, probe_internals
    from _memtui_hook.patches import install

    hook = state()
    group.join(keras, hook)  # --workers N: join the group before Keras computes anything (_memtui_hook/group.py)
    probe_internals(hook)
    after_keras(keras, hook)
    install(keras, hook)
    try:
        loops.install(keras, hook)
    except Exception as exc:
        hook.problems.report("watching training loops", exc, "no steps from loops without fit()")
