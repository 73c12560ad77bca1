"""The user's own Keras script as a run kind, its pure parts: checking the
command, turning a config into the hook's settings and the process to start,
and learning what the script's `fit()` reported. The kind's behaviour built on
them is `ScriptKind` (tui/kinds/scriptkind.py).

The in-process half is trainer/scripthook (its contract: trainer/hookspec.py,
docs/SCRIPT_HOOK.md). This is the launcher's half: the supervisor records
`launch_spec` in the run folder and the reaper starts it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from trainer.command import ScriptCommand
from trainer.config import BACKENDS, ConfigError, RunConfig
from trainer.hookspec import HookSettings, fill_batch_placeholder, launch_env

# The run options that mean something for a script (RunConfig fields); every
# other run option is the built-in trainer's and is refused with a command.
SCRIPT_OPTIONS = frozenset({"batch_size", "memory_growth", "gpu_memory_limit", "mixed_precision", "grad_accum",
                            "host_memory_limit", "steps_per_epoch", "backup_dir", "workers", "hosts"})
_PYTHON = re.compile(r"python(\d+(\.\d+)*)?[mw]?(\.exe)?$")
# Python options that take a value as the next word.
_PY_VALUE_OPTIONS = frozenset({"-W", "-X", "--check-hash-based-pycs"})


def new_command(argv: Sequence[str], workdir: str | Path, *, set_batch: bool, xla: bool = True) -> ScriptCommand:
    """The command as typed; with `{batch_size}` in it memtui always sets the batch."""
    cmd = ScriptCommand(argv=tuple(argv), workdir=str(workdir), xla=xla, set_batch=set_batch)
    return replace(cmd, set_batch=True) if cmd.has_placeholder else cmd


# --- before anything starts: is this a command that can run? ------------------


def command_problem(argv: Sequence[str], workdir: str | Path, environ: Mapping[str, str]) -> str | None:
    """One line saying why `argv` cannot start from `workdir`, or None.

    The program is looked up as the shell would (PATH of `environ`, or a path
    from `workdir`); for Python, the script it names must exist too."""
    if not argv or not argv[0]:
        return "the command after -- is empty; give the command to run, e.g. memtui -- python train.py"
    program = argv[0]
    if os.sep in program:
        path = Path(workdir, program).expanduser()
        if not path.exists():
            return f"no such program: {program} (looked in {workdir})"
        if path.is_dir():
            return f"{program} is a folder, not a program"
        if not os.access(path, os.X_OK):
            return f"{program} is not executable; run it as `python {program}` or chmod +x it"
    elif shutil.which(program, path=environ.get("PATH", os.defpath)) is None:
        return f"command not found: {program} (not on PATH)"
    if is_python(program):
        script = python_script(argv[1:])
        if script is not None and not Path(workdir, script).expanduser().is_file():
            where = "" if Path(script).is_absolute() else f" (looked in {workdir})"
            return f"no such script: {script}{where}"
    return None


def is_python(program: str) -> bool:
    return _PYTHON.match(Path(program).name) is not None


def python_script(args: Sequence[str]) -> str | None:
    """The script file a `python ...` command runs, or None (-m, -c, stdin)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in _PY_VALUE_OPTIONS:
            skip = True
            continue
        if arg == "-" or arg.startswith(("-m", "-c")):
            return None
        if arg.startswith("-"):
            continue
        return arg
    return None


def hook_blocked(argv: Sequence[str]) -> str | None:
    """The Python option that keeps the hook out (it ignores PYTHONPATH or site), if any."""
    if not is_python(argv[0]):
        return None
    skip = False
    for arg in argv[1:]:
        if skip:  # the value of the option before (`-W ignore`)
            skip = False
            continue
        if not arg.startswith("-") or arg.startswith(("-m", "-c")) or arg == "-":
            return None
        if arg in _PY_VALUE_OPTIONS:
            skip = True
            continue
        if arg.startswith("--"):
            continue
        for letter in ("I", "E", "S"):
            if letter in arg[1:] and not arg.startswith(("-W", "-X")):
                return f"-{letter}"
    return None


# --- launching -----------------------------------------------------------------------


def backup_folder(config: RunConfig) -> str | None:
    """Where the hook keeps this attempt's BackupAndRestore, keyed like the built-in
    trainer's: what makes a backup loadable into the next attempt's model
    (precision and accumulation change its variables; the batch does not)."""
    if config.backup_dir is None:
        return None
    precision = "mixed16" if config.mixed_precision else "float32"
    return str(Path(config.backup_dir) / f"script-{precision}-accum{config.grad_accum}")


def hook_settings(config: RunConfig, run_dir: str | Path) -> HookSettings:
    cmd = command_of(config)
    return HookSettings(
        run_dir=str(run_dir),
        batch_size=config.worker_batch if cmd.set_batch else None,  # --workers N: each process's share
        batch_placeholder=cmd.has_placeholder,
        grad_accum=config.grad_accum,
        mixed_precision=config.mixed_precision,
        memory_growth=config.memory_growth,
        gpu_memory_limit=config.gpu_memory_limit,
        jit_compile=None if cmd.xla else False,
        # A group's processes would all write one backup folder at once: no resume backup for --workers N.
        backup_dir=backup_folder(config) if config.workers == 1 else None,
        host_memory_limit=config.host_memory_limit,
        max_steps=config.steps_per_epoch,
        max_epochs=cmd.max_epochs,
    )


def launch_spec(config: RunConfig, run_dir: str | Path, environ: Mapping[str, str]) -> dict[str, Any]:
    """What the reaper starts: the argv (placeholder filled), the folder, and only
    the variables added to the user's environment (the rest is inherited)."""
    cmd = command_of(config)
    argv, _ = fill_batch_placeholder(cmd.argv, config.worker_batch)
    env = launch_env(hook_settings(config, run_dir), environ)
    # The script's prints reach its log as they happen (a file makes stdout block-buffered).
    if "PYTHONUNBUFFERED" not in environ:
        env["PYTHONUNBUFFERED"] = "1"
    return {"argv": argv, "cwd": cmd.workdir, "env": env}


# --- while it runs: what the script's fit() said ----------------------------------------


def learn(config: RunConfig, run_start: Mapping[str, Any]) -> RunConfig:
    """`config` with what a run_start of the script reported folded in: how its
    batch can be set (and why not, where the hook refused it), the batch it
    trains with, the model's name, its epochs, and the accumulation and
    precision in force: the script's own where the hook could not apply memtui's,
    so the header and the history never show a remedy that is not running."""
    cmd = command_of(config)
    control = run_start.get("batch_control")
    control = control if control in ("arrays", "rebatch", "placeholder") else "none"
    batch = run_start.get("batch_size")
    changes: dict[str, Any] = {}
    known = cmd.set_batch
    if isinstance(batch, int) and not isinstance(batch, bool) and batch >= 1:
        changes["batch_size"] = batch * config.workers  # fit()'s batch is one worker's share of the global batch
        known = True
    elif not cmd.set_batch:
        known = False
    epochs = run_start.get("epochs")
    if isinstance(epochs, int) and not isinstance(epochs, bool) and 1 <= epochs <= 100_000:
        changes["epochs"] = epochs
    backend = run_start.get("backend")
    if backend in BACKENDS:  # the script's own KERAS_BACKEND decides; the remedies follow it
        changes["backend"] = backend
    changes.update(_in_force(run_start))
    model = run_start.get("model")
    new_cmd = replace(cmd, batch_control=control, batch_known=known,
                      model=model if isinstance(model, str) and model else cmd.model,
                      refused=_refused(run_start))
    try:
        return config.replace(script=new_cmd, **changes)
    except ConfigError:
        return config.replace(script=new_cmd)


def _in_force(run_start: Mapping[str, Any]) -> dict[str, Any]:
    """The accumulation and precision the script's fit() trains with, as run_start saw them."""
    found: dict[str, Any] = {}
    accum = run_start.get("grad_accum")
    if isinstance(accum, int) and not isinstance(accum, bool) and accum >= 1:
        found["grad_accum"] = accum
    policy = run_start.get("dtype_policy")
    if isinstance(policy, str) and policy:
        found["mixed_precision"] = policy.startswith("mixed_")
    return found


def _refused(run_start: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """What the hook did not apply of what was asked, and why (run_start's not_applied), once per change."""
    found: dict[str, str] = {}
    for record in run_start.get("not_applied") or ():
        if isinstance(record, Mapping) and record.get("asked") is True:
            change, why = record.get("change"), record.get("why")
            if isinstance(change, str) and change and isinstance(why, str) and why:
                found.setdefault(change, why)
    return tuple(found.items())


def resume_note(run_start: Mapping[str, Any], relaunch: bool) -> str | None:
    """Whether the script's first fit() continues from memtui's backup, in words
    (said for a relaunch, and for any attempt that did continue)."""
    if run_start.get("phase", 1) != 1:
        return None
    initial = run_start.get("initial_epoch")
    if isinstance(initial, int) and not isinstance(initial, bool) and initial >= 1:
        return (f"continues from epoch {initial + 1}: memtui's backup of the last finished epoch "
                "(same precision and accumulation, so the same model)")
    if relaunch and run_start.get("backup_dir"):
        return ("starts from the first epoch: no finished epoch was backed up with these settings "
                "(a change of precision or accumulation, or an ending inside the first epoch, starts afresh)")
    return None


# --- words ---------------------------------------------------------------------------------


def command_words(argv: Sequence[str], width: int | None = None) -> str:
    """The command as the user would type it; paths shortened to their names and
    the end cut with … when it has to fit `width`."""
    text = shlex.join(argv)
    if width is None or len(text) <= width:
        return text
    short = shlex.join([Path(a).name if os.sep in a and not a.startswith("-") else a for a in argv])
    if len(short) <= width:
        return short
    return short[: max(1, width - 1)] + "…"


def command_of(config: RunConfig) -> ScriptCommand:
    if config.script is None:
        raise ValueError("not a script run: the config has no command")
    return config.script
