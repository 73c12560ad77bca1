"""`memtui runs`: the stored runs, newest first (`--json` for scripts).

`--csv RUN` prints one attempt's steps as CSV; `--tensorboard RUN` (re)writes
its TensorBoard event file. RUN is a run id (or a unique prefix), a run
folder's path, or `latest`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from tui.cli.options import add_runs_dir_option, runs_root
from tui.common.units import format_bytes

if TYPE_CHECKING:
    from tui.runs.folder import RunDir
    from tui.runs.store import RunStore

PROG = "memtui runs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="one JSON object per run, one per line")
    shape.add_argument("--csv", metavar="RUN", default=None,
                       help="print one CSV row per step of RUN (id, folder or latest), e.g. memtui runs --csv latest")
    shape.add_argument("--tensorboard", metavar="RUN", default=None,
                       help="(re)write RUN/tensorboard/ for `tensorboard --logdir` on the runs folder, "
                            "e.g. memtui runs --tensorboard latest")
    add_runs_dir_option(parser)


def _fail(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2

def run(ns: argparse.Namespace) -> int:
    from tui.runs.store import RunStore, RunStoreError

    try:
        store = RunStore(runs_root(ns))
        if ns.csv is not None or ns.tensorboard is not None:
            return _export(store, ns)
        runs = store.list_runs()
    except RunStoreError as exc:
        return _fail(str(exc))
    if ns.json:
        for summary in runs:
            print(json.dumps(summary.to_dict(), sort_keys=True))
        return 0
    if not runs:
        print(f"no runs in {runs_root(ns)}; `memtui` starts one")
        return 0
    print(f"{'RUN':<21} {'STARTED':<16} {'CONFIG':<24} {'STEPS':>7} {'EST.':>7} {'PEAK':>7}  STATUS")
    for s in runs:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.started)) if s.started else "-"
        sizes = f"{format_bytes(s.estimate, unknown='-'):>7} {format_bytes(s.peak_memory, unknown='-'):>7}"
        command = f"  $ {s.command}" if s.command else ""  # the user's own script: its command, as typed
        if s.command:  # and what it runs on, with what memtui changes in it
            from tui.kinds.words import backend_name

            force = "in force: " + ", ".join(s.in_force) if s.in_force else "nothing changed by memtui"
            command += f"  (on {backend_name(s.backend)}; {force})"
        print(f"{s.id:<21} {started:<16} {s.config[:24]:<24} {s.steps:>7} {sizes}  {s.status}{command}")
        for words in s.not_applied:  # what memtui could not change in the script, and why
            print(f"{'':<21} not applied: {words}")
    return 0


def _export(store: RunStore, ns: argparse.Namespace) -> int:
    from tui.runs.store import RunStoreError

    ref = ns.csv if ns.csv is not None else ns.tensorboard
    try:
        target = _resolve(store, ref)
    except RunStoreError as exc:
        return _fail(str(exc))
    if ns.csv is not None:
        from tui.runs.csvexport import write_csv

        write_csv(target, sys.stdout)
        return 0
    from tui.runs.tensorboard import export_run

    try:
        path = export_run(target)
    except OSError as exc:
        return _fail(f"cannot write the TensorBoard file in {target.path}: {exc.strerror}")
    print(path)
    return 0


def _resolve(store: RunStore, ref: str) -> RunDir:
    """A run folder that has events, or RunStoreError in one line."""
    from tui.runs.store import RunStoreError

    if ref == "latest":
        runs = store.run_dirs()
        if not runs:
            raise RunStoreError(f"no runs in {store.root}; `memtui` starts one")
        target = runs[0]
    else:
        target = store.resolve(ref)
    if not target.events_path.is_file():
        raise RunStoreError(f"{target.path} has no events.jsonl: not a run folder, or its trainer never started")
    return target
