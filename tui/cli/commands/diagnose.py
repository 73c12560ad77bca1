"""`memtui diagnose LOGFILE [--exit-code N] [--json]`: explain how a run ended.

LOGFILE is any saved TensorFlow log (a user's own included) or a memtui run
(its folder, its id as `memtui runs` lists it, a unique prefix of the id, or
`latest`), in which case its events, exit status, config and launch baseline
are used too. A log that cannot be read is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tui.cli.options import add_runs_dir_option, runs_root
from tui.common.verdict import Verdict
from tui.diagnosis import backend_of_run, diagnose, tail_text
from tui.diagnosis.runfolder import diagnosis_inputs, is_run_folder
from tui.ui.widgets.keys import key_for_remedy

_SNIFF = 8192


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logfile", metavar="LOGFILE",
                        help="a saved TensorFlow log (stderr of the training), or a memtui run: its folder, "
                             "its id (or a unique prefix), or latest")
    parser.add_argument("--exit-code", type=int, default=None, metavar="N",
                        help="how the process ended: its exit code, -N or 128+N for signal N (e.g. 137 = SIGKILL)")
    parser.add_argument("--json", action="store_true", help="print the verdict as one JSON object")
    add_runs_dir_option(parser)


def run(ns: argparse.Namespace) -> int:
    path = Path(ns.logfile).expanduser()
    try:
        if not path.exists():
            path = _stored_run(ns.logfile, runs_root(ns), path)
        inputs = _inputs(path)
    except _BadLog as exc:
        print(f"memtui diagnose: {exc}", file=sys.stderr)
        return 2
    if ns.exit_code is not None:
        inputs["exit_code"] = ns.exit_code
    verdict = diagnose(**inputs)
    print(json.dumps(as_json(verdict, inputs), indent=2) if ns.json else render(verdict))
    return 0


def as_json(v: Verdict, inputs: dict[str, Any]) -> dict[str, Any]:
    """The verdict's fields, and "backend": "tensorflow", "jax", "torch" or null."""
    data = v.to_dict()
    for remedy in data["remedies"]:  # each with the screen key that applies it (null: advice only)
        remedy["key"] = key_for_remedy(remedy["id"])
    data["backend"] = v.details.get("backend") or backend_of_run(inputs.get("log_tail") or "", inputs.get("config"))
    return data


class _BadLog(Exception):
    pass


def _stored_run(ref: str, root: Path, path: Path) -> Path:
    """The folder of run `ref` (an id, a unique prefix, `latest`) in the runs folder."""
    from tui.runs.store import RunStore, RunStoreError

    if "/" in ref or not root.is_dir():
        raise _BadLog(f"{path} does not exist; give the path of a saved training log or a run id from `memtui runs`")
    try:
        store = RunStore(root)
        if ref == "latest":
            runs = store.run_dirs()
            if not runs:
                raise _BadLog(f"no runs in {root}; `memtui` starts one")
            return runs[0].path
        return store.resolve(ref).path
    except RunStoreError as exc:
        raise _BadLog(f"{path} is neither a file nor a run: {exc}") from None


def _inputs(path: Path) -> dict[str, Any]:
    if is_run_folder(path):
        return diagnosis_inputs(path)
    if path.is_dir():
        raise _BadLog(f"{path} is a folder without trainer.log, events.jsonl or exit.json; "
                      "give a log file or a memtui run folder")
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF)
    except FileNotFoundError:
        raise _BadLog(f"{path} does not exist; give the path of a saved training log") from None
    except OSError as exc:
        raise _BadLog(f"cannot read {path} ({exc.strerror}); check its permissions") from None
    if b"\x00" in head:
        raise _BadLog(f"{path} is binary, not a text log; give the file the training's output was saved to")
    return {"exit_code": None, "log_tail": tail_text(path)}


def render(v: Verdict) -> str:
    """The verdict for a terminal: kind, sentence, evidence, what to try."""
    lines = [f"{v.kind}: {v.summary}"]
    # Who else held the GPU and what was not applied have lines of their own below.
    shown = {k: val for k, val in v.details.items() if k not in ("other_processes", "not_applied")}
    if shown:
        lines.append("details: " + ", ".join(f"{k}={val}" for k, val in shown.items()))
    if v.evidence:
        lines.append("evidence:")
        lines += [f"  {line}" for line in v.evidence]
    if v.remedies:
        lines.append("try, in this order:")
        for i, r in enumerate(v.remedies, 1):
            letter = key_for_remedy(r.id)
            key = f" [key {letter}]" if letter else ""
            lines.append(f"  {i}. {r.title}{key}: {r.why}")
    return "\n".join(lines)
