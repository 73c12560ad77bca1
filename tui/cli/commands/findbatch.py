"""`memtui find-batch`: the largest batch that fits, one fresh process per probe.

`memtui find-batch [run options] -- COMMAND [ARGS...]` searches the batch of the
user's own script, where memtui can set it (in-memory arrays, a batched
tf.data pipeline, or `{batch_size}` in the command)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict, fields
from typing import TextIO

from trainer.config import ConfigError, RunConfig, flag
from tui.cli.options import add_run_options, resolve_run_config, runs_root
from tui.kinds import MODEL_SWITCH, kind_for, kind_of
from tui.runs.store import RunStore, RunStoreError
from tui.session.findbatch import (
    DEFAULT_MARGIN,
    DEFAULT_MAX_BATCH,
    PROBE_STEPS,
    BatchNotSettable,
    FindResult,
    ProbeFailed,
    ProbeReport,
    SearchCancelled,
    find_batch,
    new_search,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("search")
    group.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH, metavar="N",
                       help=f"the largest batch to try (default {DEFAULT_MAX_BATCH}), e.g. --max-batch 512")
    group.add_argument("--margin", type=float, default=DEFAULT_MARGIN, metavar="X",
                       help=f"recommend the largest batch that fits times X (default {DEFAULT_MARGIN}), "
                            "room for memory that varies between runs")
    group.add_argument("--multiple-of", type=int, default=1, metavar="N",
                       help="only try batches that are multiples of N (default 1), e.g. --multiple-of 8 for "
                            "GPU tensor cores; also makes the search shorter")
    group.add_argument("--probe-steps", type=int, default=PROBE_STEPS, metavar="N",
                       help=f"training steps per probe (default {PROBE_STEPS})")
    group.add_argument("--ignore-data-bound", action="store_true",
                       help="let the batch exceed the training set / 4 (at least 4 steps per epoch); "
                            "only memory and --max-batch bound it")
    group.add_argument("--json", action="store_true", help="one JSON object per probe, then the result")
    add_run_options(parser)


def run(ns: argparse.Namespace) -> int:
    try:
        config = resolve_run_config(ns)
        _check(ns)
        store = RunStore(runs_root(ns))
    except (ConfigError, RunStoreError) as exc:
        print(f"memtui find-batch: {exc}", file=sys.stderr)
        return 2
    out = sys.stdout
    kind = kind_for(config)
    spare = not getattr(ns, "no_spare", False) and kind.uses_spare
    config = kind.setting_batch(config)
    if not ns.json:
        step = f" in multiples of {ns.multiple_of}" if ns.multiple_of > 1 else ""
        state, examples = new_search(config, ns.max_batch, ns.multiple_of, respect_data=not ns.ignore_data_bound)
        bound = state.hi * ns.multiple_of
        data = f" ({examples} training examples allow {bound})" if state.bound_is_data else ""
        warm = ", warm after the first" if spare else ""
        each = kind.fresh_run
        print(f"Searching batch from {state.start * ns.multiple_of} up to {bound}{data}{step} with at most "
              f"{state.probes_left()} probes of {ns.probe_steps} steps, each {each}{warm}.",
              file=out, flush=True)
    try:
        result = find_batch(
            config, store, max_batch=ns.max_batch, margin=ns.margin, multiple_of=ns.multiple_of,
            probe_steps=ns.probe_steps, spare=spare, respect_data=not ns.ignore_data_bound,
            on_start=None if ns.json else lambda i, b: _started(out, i, b),
            on_probe=lambda r: _probe(out, r, ns.json),
        )
    except KeyboardInterrupt:
        # find_batch has already asked the live probe to stop.
        print("memtui find-batch: stopped; no batch was chosen", file=sys.stderr)
        return 130
    except SearchCancelled as exc:
        print(f"memtui find-batch: {exc}", file=sys.stderr)
        return 130
    except BatchNotSettable as exc:
        print(f"memtui find-batch: cannot search: {exc}", file=sys.stderr)
        return 2
    except ProbeFailed as exc:
        print(f"memtui find-batch: {exc}; see the probe's trainer.log under {runs_root(ns)}", file=sys.stderr)
        return 4
    return _report(out, config, result, ns.json)


def _check(ns: argparse.Namespace) -> None:
    if ns.max_batch < 1:
        raise ConfigError(f"--max-batch: {ns.max_batch} is out of range; use a whole number of at least 1")
    if not 0.0 < ns.margin <= 1.0:
        raise ConfigError(f"--margin: {ns.margin} is out of range; use a number above 0 and at most 1, e.g. 0.9")
    if ns.multiple_of < 1 or ns.multiple_of > ns.max_batch:
        raise ConfigError(f"--multiple-of: {ns.multiple_of} is out of range; use a whole number from 1 to "
                          f"--max-batch ({ns.max_batch})")
    if ns.probe_steps < 1:
        raise ConfigError(f"--probe-steps: {ns.probe_steps} is out of range; use a whole number of at least 1")


def _started(out: TextIO, index: int, batch: int) -> None:
    print(f"probe {index}: batch {batch} ...", file=out, flush=True)


def _probe(out: TextIO, r: ProbeReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"type": "probe", **asdict(r)}), file=out, flush=True)
        return
    answer = "fits" if r.fits else "out of memory"
    peak = f"peak {r.peak_memory / 2**20:.0f} MiB" if r.peak_memory else "peak unknown"
    speed = f", {r.examples_per_second:.1f} examples/s" if r.examples_per_second and r.fits else ""
    eta = "done" if r.probes_left == 0 else f"at most {r.probes_left} more, ETA {_duration(r.eta_seconds)}"
    print(f"probe {r.index}: batch {r.batch} {answer} ({peak}{speed}; {r.seconds:.0f} s) · {eta}",
          file=out, flush=True)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _report(out: TextIO, config: RunConfig, result: FindResult, as_json: bool) -> int:
    launch = result.launch_config(config)
    command = launch_command(launch) if launch is not None else None
    if as_json:
        print(json.dumps({"type": "result", "largest": result.largest, "recommended": result.recommended,
                          "margin": result.margin, "probes": len(result.probes), "command": command,
                          "limited_by": result.limited_by, "bound": result.bound}),
              file=out, flush=True)
    elif result.largest is None:
        others = ("--model small or a smaller --image-size" if kind_of(config).allows(MODEL_SWITCH)
                  else "--grad-accum with a smaller batch")
        print(f"Even batch {_smallest(result)} ran out of memory: try --mixed-precision, {others}.", file=out)
    else:
        print(f"Largest batch that fits: {result.largest}. With margin {result.margin}: {result.recommended}.",
              file=out)
        print(f"Why: {result.why}.", file=out)
        print(f"Launch with: {command}", file=out, flush=True)
    return 0 if result.largest is not None else 3


def _smallest(result: FindResult) -> int:
    return min((p.batch for p in result.probes), default=1)


def launch_command(config: RunConfig) -> str:
    """The `memtui` command line that runs `config` (flags for non-defaults only)."""
    default = RunConfig()
    kind = kind_for(config)
    words = ["memtui"]
    for f in fields(RunConfig):
        value = getattr(config, f.name)
        if f.name in ("backup_dir", "script", "kind") or value == getattr(default, f.name):
            continue
        if kind.options is not None and f.name not in kind.options:
            continue  # learned from the run (a script's epochs, from its fit()), not an option of this kind
        if isinstance(value, bool):
            words.append(flag(f.name) if value else "--no-" + flag(f.name)[2:])
        else:
            words += [flag(f.name), str(value)]
    more, tail = kind.command_tail(config)
    return shlex.join(words + more) + tail
