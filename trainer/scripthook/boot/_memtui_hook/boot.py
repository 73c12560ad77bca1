"""Start-up inside the user's Python (called by sitecustomize.py).

Everything the hook needs is imported here, at start-up, so nothing depends
on the script leaving sys.path alone.

Reads the settings (MEMTUI_HOOK), makes sure child processes run without the
hook (this folder leaves PYTHONPATH, MEMTUI_HOOK leaves the environment),
writes RUN_DIR/hook.json, and asks for the patches when the script imports
tensorflow and keras. Imports neither.
"""

from __future__ import annotations

import json
import os
import sys
from types import ModuleType

from _memtui_hook.devices import after_keras, after_tensorflow
from _memtui_hook.importhook import PostImportFinder
from _memtui_hook.patches import install
from _memtui_hook.report import EventWriter
from _memtui_hook.state import HookState
from _memtui_hook.trainer_files import load

_hookspec = load("hookspec")

STATE: HookState | None = None


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


def start(here: str) -> None:
    global STATE
    try:
        settings = _hookspec.HookSettings.from_env()
    finally:
        _leave_environment(here)  # children run unhooked even when the settings are bad
    if settings is None:
        return
    os.makedirs(settings.run_dir, exist_ok=True)
    state = HookState(settings=settings, writer=EventWriter(settings.run_dir))
    STATE = state
    _hello(settings.run_dir)
    finder = PostImportFinder(lambda where, exc: state.problems.report(where, exc, "the script runs without it"))
    finder.when_imported("tensorflow", lambda tf: _after_tensorflow(tf, state))
    finder.when_imported("keras", lambda keras: _after_keras(keras, state))


def _after_tensorflow(tf: ModuleType, state: HookState) -> None:
    after_tensorflow(tf, state)


def _after_keras(keras: ModuleType, state: HookState) -> None:
    try:
        after_keras(keras, state)
    except Exception as exc:
        state.problems.report("setting the dtype policy", exc, "the script's own policy is kept")
    install(keras, state)
