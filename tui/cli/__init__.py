"""The `memtui` command line.

`memtui [run options]` opens the screen on a new run (the built-in demo when no
`--data` is given); `memtui [run options] -- COMMAND [ARGS...]` on the user's own
Keras script (also `memtui run ... -- COMMAND` and `memtui find-batch ... -- COMMAND`).
Subcommands cover the rest; each lives in `tui/commands/<name>.py` with
`add_arguments(parser)` and `run(ns) -> int`, and is imported only when used, so `memtui status` never pays for Textual.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from trainer.config import OneLineParser
from tui import __version__

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("tui.cli.commands.run", "start a run: the screen, or --headless for plain lines"),
    "attach": ("tui.cli.commands.attach", "open the screen on a run that is still going (default: the newest)"),
    "runs": ("tui.cli.commands.runs", "list stored runs"),
    "status": ("tui.cli.commands.status", "one-shot report of GPUs, host memory and the live run"),
    "diagnose": ("tui.cli.commands.diagnose", "explain how a saved TensorFlow log ended"),
    "find-batch": ("tui.cli.commands.findbatch", "find the largest batch that fits, one fresh process per probe"),
    "demo": ("tui.cli.commands.demo", "a built-in run that really runs out of memory: see the doctor at work"),
}

# The commands that can run the user's own command, given after `--`.
WITH_COMMAND = (None, "run", "find-batch")

EPILOG = """commands:
  memtui [run options]          open the screen and train (the built-in demo by default)
  memtui [options] -- COMMAND   open the screen on your own Keras script, e.g. memtui -- python train.py
""" + "".join(f"  memtui {name:<22} {text}\n" for name, (_, text) in COMMANDS.items()) + """
examples:
  memtui                                    train the built-in demo and watch memory
  memtui --data ~/photos --batch-size 64    your own images, one folder per class
  memtui demo oom                           watch a real out-of-memory ending and press b to fix it
  memtui run --headless --auto-recover      no screen: readable lines, OOMs fixed on their own
  memtui --memory-growth -- python train.py --epochs 3
                                            your own script, unmodified, with memory growth on
  memtui run --headless --auto-recover -- python train.py --batch {batch_size}
                                            memtui fills in the batch and halves it after an OOM
  memtui diagnose trainer.log --json        what killed a run, from its log
  memtui <command> --help                   the options of one command
"""


def build_parser(name: str | None) -> argparse.ArgumentParser:
    """The parser for one command (`None`: the bare `memtui`, which means `run`)."""
    prog = "memtui" if name is None else f"memtui {name}"
    module_name, text = COMMANDS[name or "run"]
    parser = OneLineParser(
        prog=prog,
        description="memtui: watch Keras training's memory and fix out-of-memory errors."
        if name is None
        else text[0].upper() + text[1:] + ".",
        epilog=EPILOG if name is None else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"memtui {__version__}")
    importlib.import_module(module_name).add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `memtui runs | head`: the reader left. Say nothing more, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    name = args[0] if args and args[0] in COMMANDS else None
    if name is not None:
        args = args[1:]
    command: list[str] | None = None
    if name in WITH_COMMAND and "--" in args:
        # `memtui [options] -- COMMAND [ARGS...]`: everything after the first `--` is the
        # user's own command, untouched (its own options may look like ours).
        cut = args.index("--")
        args, command = args[:cut], args[cut + 1:]
        if not command:
            prog = "memtui" if name is None else f"memtui {name}"
            print(f"{prog}: nothing after --; give the command to run, e.g. {prog} -- python train.py",
                  file=sys.stderr)
            return 2
    parser = build_parser(name)
    ns = parser.parse_args(args)
    if name in WITH_COMMAND:
        ns.command = command
    module = importlib.import_module(COMMANDS[name or "run"][0])
    return int(module.run(ns) or 0)


if __name__ == "__main__":
    sys.exit(main())
