"""Run options shared by every command that starts training.

`memtui`, `memtui run`, `memtui attach` and `memtui find-batch` all accept the
trainer's flags plus `--config FILE.toml` (flags override the file) and
`--runs-dir`. Errors are `ConfigError` lines; commands print them and exit 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields
from pathlib import Path

from trainer import backends
from trainer.command import CommandError
from trainer.config import ConfigError, RunConfig, add_run_arguments, config_from_args, flag
from tui.kinds.datacheck import check_data_folder
from tui.kinds.script import SCRIPT_OPTIONS, command_problem, new_command
from tui.telemetry.sampler import DEFAULT_INTERVAL, MIN_INTERVAL, check_interval

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

RUNS_DIR_ENV = "MEMTUI_RUNS_DIR"


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The trainer's flags, `--config` and `--runs-dir`."""
    parser.add_argument(
        "--config", metavar="FILE.toml", default=None,
        help="read run options from a TOML file (keys as the flags, e.g. batch_size = 16); flags override it",
    )
    add_runs_dir_option(parser)
    parser.add_argument(
        "--no-spare", action="store_true",
        help="start every relaunch cold: no warm spare trainer (TensorFlow imported ahead, several hundred MiB "
             "of RAM) waits beside the run",
    )
    add_run_arguments(parser)
    parser.add_argument(
        "--no-xla", dest="no_xla", action="store_true",
        help="your own script only: compile its model without XLA (jit_compile=False); Keras turns XLA on "
             "by default with a GPU, and some OOMs and recompiles go away without it",
    )


def add_runs_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs-dir", metavar="DIR", default=None,
        help=f"where run folders live (default ${RUNS_DIR_ENV} or ~/.local/state/memtui/runs)",
    )


def load_toml_config(path: str | Path) -> RunConfig:
    """A RunConfig from a TOML file; every problem is one ConfigError line."""
    path = Path(path).expanduser()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"--config: {path} does not exist; give the path of a TOML file") from None
    except IsADirectoryError:
        raise ConfigError(f"--config: {path} is a folder; give the path of a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path} ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"--config: {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config: {path} is not valid TOML ({exc})") from None
    # Accept either top-level keys or a [run] table, so one file can hold more later.
    if set(data) == {"run"} and isinstance(data["run"], dict):
        data = data["run"]
    if "script" in data:  # what a run folder records, not a setting: the command goes after --
        raise ConfigError(f"--config: {path}: 'script' is not a setting; give your command after --, "
                          "e.g. memtui --config run.toml -- python train.py")
    return RunConfig.from_mapping(data, source=str(path))


def resolve_run_config(ns: argparse.Namespace) -> RunConfig:
    """The config file (if any) overlaid with the flags that were given; with a
    command after `--` (ns.command), the config of a run of the user's own script."""
    base = load_toml_config(ns.config) if getattr(ns, "config", None) else RunConfig()
    command = getattr(ns, "command", None)
    # --workers and --hosts are checked against the kind of run: a script's backend is its own, not --backend's.
    group = {k: getattr(ns, k, None) for k in ("workers", "hosts")}
    config = config_from_args(argparse.Namespace(**{**vars(ns), "workers": None, "hosts": None}), base)
    if command:
        return script_config(ns, base, config, command)
    if given := {k: v for k, v in group.items() if v is not None}:
        config = config.replace(**given)
    if getattr(ns, "no_xla", False):
        raise ConfigError("--no-xla applies to your own script (memtui [options] -- python train.py); "
                          "the built-in trainer does not use XLA")
    if config.data is not None:
        # Catch a wrong --data here, in a second, rather than after the trainer's
        # several seconds of TensorFlow start-up (the trainer checks again).
        check_data_folder(config.data)
        config = config.replace(data=str(Path(config.data).expanduser()))
    if why := backends.missing(config.backend):  # before any trainer starts, as for --data
        raise ConfigError(why)
    return config


def script_config(ns: argparse.Namespace, base: RunConfig, config: RunConfig, command: list[str]) -> RunConfig:
    """The run options that mean something for a script, on the user's command, which
    runs in the current folder; the built-in trainer's own options are refused."""
    default = RunConfig()
    for f in fields(RunConfig):
        if f.name == "script" or f.name in SCRIPT_OPTIONS:
            continue
        if getattr(ns, f.name, None) is not None and f.name == "backend":
            raise ConfigError("--backend applies to the built-in trainer only: your script runs on the Keras backend "
                              "it chooses itself, e.g. KERAS_BACKEND=jax memtui -- python train.py")
        if getattr(ns, f.name, None) is not None:
            raise ConfigError(f"{flag(f.name)} applies to the built-in trainer only, not to your own command; "
                              "give your script its own options after --")
        if getattr(config, f.name) != getattr(default, f.name):
            raise ConfigError(f"{f.name} (in {ns.config}) applies to the built-in trainer only, not to your own "
                              "command; remove it from the file or give your script its own options after --")
    try:
        workdir = os.getcwd()
    except FileNotFoundError:
        raise ConfigError("the current folder no longer exists; cd to your script's folder") from None
    problem = command_problem(command, workdir, os.environ)
    if problem is not None:
        raise ConfigError(problem)
    # Without --batch-size (or a placeholder, or batch_size in the file) the script keeps its own batch.
    set_batch = getattr(ns, "batch_size", None) is not None or base.batch_size != default.batch_size
    try:
        script = new_command(command, workdir, set_batch=set_batch, xla=not getattr(ns, "no_xla", False))
    except CommandError as exc:
        raise ConfigError(str(exc)) from None
    return config.replace(script=script, workers=getattr(ns, "workers", None) or config.workers,
                          hosts=getattr(ns, "hosts", None) or config.hosts)


def runs_root(ns: argparse.Namespace | None = None) -> Path:
    """--runs-dir, else $MEMTUI_RUNS_DIR, else the XDG state dir."""
    given = getattr(ns, "runs_dir", None) if ns is not None else None
    if given:
        return Path(given).expanduser()
    if os.environ.get(RUNS_DIR_ENV):
        return Path(os.environ[RUNS_DIR_ENV]).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "memtui" / "runs"


def _interval_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds; use 0.25 or more") from None
    try:
        return check_interval(value)
    except ConfigError as exc:  # argparse already names the option
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--interval: ")) from None


def add_interval_option(parser: argparse.ArgumentParser) -> None:
    """`--interval SECONDS` for commands that sample telemetry."""
    parser.add_argument(
        "--interval", metavar="SECONDS", type=_interval_arg, default=DEFAULT_INTERVAL,
        help=f"seconds between telemetry readings (default {DEFAULT_INTERVAL:g}; at least {MIN_INTERVAL:g})",
    )
