"""`memtui attach [RUN]`: the screen on a run that is still going.

With no RUN, the newest live run. A run that cannot be attached (finished,
damaged, unknown) is one line and exit 2, before any screen is drawn.
"""

from __future__ import annotations

import argparse

from tui.cli.commands.run import add_screen_options, fail, open_screen
from tui.cli.options import add_runs_dir_option, runs_root


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", nargs="?", default=None,
                        help="run id, unique id prefix or folder (default: the newest live run), "
                             "e.g. memtui attach 20250101-120000")
    add_runs_dir_option(parser)
    add_screen_options(parser)


def run(ns: argparse.Namespace) -> int:
    prog = "memtui attach"
    from tui.runs.store import RunStore, RunStoreError

    root = runs_root(ns)
    try:
        store = RunStore(root)
        if ns.run is None:
            target = store.newest_live()
            if target is None:
                return fail(prog, f"no live run in {root}; `memtui runs` lists them, `memtui` starts one")
        else:
            target = store.resolve(ns.run)
        damage = target.damage()
        if damage:
            return fail(prog, f"cannot attach to {target.id}: its folder is damaged ({damage})")
        if not target.is_live():
            return fail(prog, f"{target.id} is not running any more ({target.state()}); "
                              f"`memtui runs` shows how it ended")
        config = target.config()
    except RunStoreError as exc:
        return fail(prog, str(exc))
    except ValueError as exc:  # a config.json that no longer validates
        return fail(prog, f"cannot attach: {exc}")
    return open_screen(prog, ns, config=config, attach=target.path, recovery=None)
