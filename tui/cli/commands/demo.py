"""`memtui demo oom`: the normal screen on a run that really runs out of memory.

The scenario (tui/kinds/oomdemo.py) is chosen by what NVML sees: an address-space
limit on a CPU-only host, a GPU memory cap on a GPU host. The first attempt
ends out of memory, the verdict panel shows why and what to do, and `b` (or
`A`, automatic recovery) reaches a run that fits and finishes.
"""

from __future__ import annotations

import argparse
import sys

from tui.cli.commands.run import add_screen_options, fail, open_screen
from tui.cli.options import add_runs_dir_option, runs_root
from tui.kinds.oomdemo import SCENARIOS, oom_scenario

PROG = "memtui demo"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", metavar="SCENARIO",
                        help=f"the built-in scenario to run: {', '.join(SCENARIOS)}, e.g. memtui demo oom")
    add_runs_dir_option(parser)
    add_screen_options(parser)
    parser.add_argument("--auto-recover", action="store_true",
                        help="recover from the out-of-memory ending on its own (key A toggles it)")
    parser.add_argument("--headless", action="store_true",
                        help="no screen: readable lines on stdout, exit code = outcome")
    parser.add_argument("--json", action="store_true", help="with --headless: one JSON object per line")


def has_gpu() -> bool:
    """Whether NVML sees a GPU (no TensorFlow here: the trainer imports it)."""
    from tui.telemetry.sampler import read_once

    snapshot = read_once()
    return snapshot.gpu_status == "ok" and bool(snapshot.gpus)


def run(ns: argparse.Namespace) -> int:
    if ns.scenario not in SCENARIOS:
        return fail(PROG, f"no scenario {ns.scenario!r}; the built-in one is: {', '.join(SCENARIOS)} "
                          f"(memtui demo oom)")
    if ns.json and not ns.headless:
        return fail(PROG, "--json needs --headless (the screen is not JSON); add --headless")
    from tui.session.recovery import Recovery

    scenario = oom_scenario(has_gpu())
    if ns.headless:
        from tui.session.headless import run_headless
        from tui.ui.widgets.keys import key_for_remedy

        if not ns.json:
            print(f"memtui: {scenario.story}", flush=True)
        return run_headless(scenario.config, Recovery(ns.auto_recover), runs_root(ns), as_json=ns.json,
                            interval=ns.interval, remedy_key=key_for_remedy)
    print(f"memtui: {scenario.story}", file=sys.stderr, flush=True)

    return open_screen(PROG, ns, config=scenario.config, recovery=Recovery(ns.auto_recover))
