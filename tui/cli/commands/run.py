"""`memtui [run options]` / `memtui run`: open the screen and train.

Everything that can be wrong with the command line (config, theme, interval,
recovery limits) is checked before Textual starts, so each problem is one line
on stderr and exit 2 instead of a traceback inside a drawn screen.
"""

from __future__ import annotations

import argparse
import sys

from trainer.config import ConfigError, RunConfig
from tui.cli.options import add_interval_option, add_run_options, resolve_run_config, runs_root


def add_screen_options(parser: argparse.ArgumentParser) -> None:
    """Options of the screen itself, shared with `memtui attach`."""
    parser.add_argument("--theme", metavar="NAME", default=None,
                        help="colour theme: memtui-dark (default), memtui-light, memtui-contrast, or any Textual "
                             "theme; $TEXTUAL_THEME also works, e.g. --theme memtui-light")
    add_interval_option(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    if parser.epilog is None:
        parser.epilog = ("your own Keras script: memtui run [options] -- COMMAND [ARGS...], e.g.\n"
                         "  memtui run --headless --auto-recover -- python train.py --batch {batch_size}")
    add_run_options(parser)
    add_screen_options(parser)
    rec = parser.add_argument_group("recovery")
    rec.add_argument("--auto-recover", action="store_true",
                     help="after an out-of-memory ending, relaunch with the next remedy on its own (key A toggles it)")
    rec.add_argument("--min-batch", metavar="N", type=int, default=1,
                     help="auto-recover never halves the batch below N (default 1), e.g. --min-batch 8")
    rec.add_argument("--max-attempts", metavar="N", type=int, default=8,
                     help="auto-recover gives up after N attempts (default 8), e.g. --max-attempts 4")
    out = parser.add_argument_group("no screen")
    out.add_argument("--headless", action="store_true",
                     help="no screen: readable lines on stdout, exit code = outcome (for scripts and CI)")
    out.add_argument("--json", action="store_true", help="with --headless: one JSON object per line")


def fail(prog: str, message: str) -> int:
    print(f"{prog}: {message}", file=sys.stderr)
    return 2


def run(ns: argparse.Namespace) -> int:
    prog = "memtui run"
    try:
        config = resolve_run_config(ns)
    except ConfigError as exc:
        return fail(prog, str(exc))
    if ns.json and not ns.headless:
        return fail(prog, "--json needs --headless (the screen is not JSON); add --headless")
    warn_unhooked(prog, config)
    if config.hosts and (problems := host_problems(config)):
        for problem in problems:
            print(f"{prog}: {problem}", file=sys.stderr)
        return 2
    from tui.session.recovery import Recovery

    try:
        recovery = Recovery(ns.auto_recover, min_batch=ns.min_batch, max_attempts=ns.max_attempts)
    except ValueError as exc:
        return fail(prog, str(exc))
    if ns.headless:
        from tui.session.headless import run_headless
        from tui.ui.widgets.keys import key_for_remedy

        return run_headless(config, recovery, runs_root(ns), as_json=ns.json, interval=ns.interval,
                            spare=not ns.no_spare, remedy_key=key_for_remedy)
    return open_screen(prog, ns, config=config, recovery=recovery, spare=not ns.no_spare)


def host_problems(config: RunConfig) -> list[str]:
    """Every host of --hosts asked over SSH before anything starts: one line for each that cannot take a worker."""
    import os

    from trainer.hosts import parse_hosts
    from tui.supervision.remote import check_hosts

    folder = config.script.workdir if config.script is not None else os.getcwd()
    answers = check_hosts(parse_hosts(config.hosts or ""), folder)
    return list(dict.fromkeys(a.problem for a in answers.values() if a.problem is not None))  # MEMTUI_SSH's: once


def warn_unhooked(prog: str, config: RunConfig) -> None:
    """One line when the user's Python is told to ignore PYTHONPATH: the run still goes."""
    from tui.kinds import kind_for

    blocked = kind_for(config).hook_blocked(config)
    if blocked is not None:
        print(f"{prog}: note: python {blocked} keeps memtui's hook out (it ignores PYTHONPATH or site): "
              "no steps and no remedies from inside, only memory, the log and how it ends", file=sys.stderr)


def open_screen(prog: str, ns: argparse.Namespace, **app_kwargs: object) -> int:
    """Choose the theme (one line when unknown), build the App and run it."""
    from tui.ui.themes import ThemeChoiceError, choose_theme, load_themes

    themes = load_themes()
    try:
        theme = choose_theme(ns.theme, themes)
    except ThemeChoiceError as exc:
        return fail(prog, str(exc))
    for problem in themes.problems:
        print(f"{prog}: theme skipped: {problem}", file=sys.stderr)

    from tui.ui.app import MemtuiApp

    app = MemtuiApp(
        runs_dir=runs_root(ns), theme=theme, themes=themes, interval=ns.interval, **app_kwargs  # type: ignore[arg-type]
    )
    result = app.run()
    return int(result or 0)
