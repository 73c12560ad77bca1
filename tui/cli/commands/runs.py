"""`memtui runs`: the stored runs, newest first (`--json` for scripts)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from tui.cli.options import add_runs_dir_option, runs_root
from tui.common.units import format_bytes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per run, one per line")
    add_runs_dir_option(parser)


def run(ns: argparse.Namespace) -> int:
    from tui.runs.store import RunStore, RunStoreError

    try:
        runs = RunStore(runs_root(ns)).list_runs()
    except RunStoreError as exc:
        print(f"memtui runs: {exc}", file=sys.stderr)
        return 2
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
        print(f"{s.id:<21} {started:<16} {s.config[:24]:<24} {s.steps:>7} {sizes}  {s.status}")
    return 0
