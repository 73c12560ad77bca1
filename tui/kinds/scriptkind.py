"""The user's own script as a run kind: `ScriptKind`, what memtui asks of it.

Its pure parts (the command checked, the hook's settings, what the reaper
starts, what its fit() reported) are tui/kinds/script.py; this is the kind's
behaviour built on them, and what it says while a script runs.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from trainer.config import RunConfig
from trainer.hookspec import HELLO_FILE
from tui.kinds.base import Kind
from tui.kinds.capabilities import BATCH, HOOK_CHANGES, SCRIPT, SCRIPT_FIXED_BATCH, RunKind
from tui.kinds.script import SCRIPT_OPTIONS, command_of, hook_blocked, launch_spec, learn, resume_note

# The user's own command: memtui's hook writes RUN/hook.json as its Python starts.
HOOK_WAIT = 5.0  # seconds without it: the hook is not in this process
FIT_WAIT = 30.0  # seconds with the hook but no fit(): say why no steps show
HOOK_MISSING = ("no sign of the hook in this process after {wait:.0f} s: the command may not be Python, or "
                "runs Python with -I, -E or -S (which ignore PYTHONPATH). Its memory, log and ending are "
                "still shown, but no steps, and remedies cannot reach inside it.")
NO_FIT_YET = ("no Keras fit() or training loop seen yet: steps show once the script calls fit() or its "
              "optimizer first updates; memory, the log and the diagnosis work meanwhile.")
NO_FIT = ("no Keras fit() and no optimizer update were seen in this run (no Keras training, or a JAX loop "
          "memtui cannot count), so it had no steps to show; its memory, log and diagnosis are as for any run.")
SCRIPT_COLD = ("your own command starts afresh each attempt: the warm spare is a built-in trainer with "
               "TensorFlow imported, of no use to your script")


class ScriptKind(Kind):
    name = SCRIPT.name
    subject = "your script"
    process = "the script"
    fresh_run = "a fresh run of your command"
    user_code = True
    uses_spare = False
    spare_refusal = SCRIPT_COLD
    options = SCRIPT_OPTIONS
    counts_examples = False  # the data is the script's own

    def capabilities(self, config: RunConfig) -> RunKind:
        """The batch capability depends on what the script's fit() was seen to get;
        a remedy the hook refused for this script (its not_applied) is not offered
        again, by a key or the ladder, and its key says why."""
        kind = self._batch_capability(config)
        refused = {HOOK_CHANGES[c]: why for c, why in command_of(config).refused if c in HOOK_CHANGES}
        if not refused:
            return kind
        return dataclasses.replace(kind, can=kind.can - refused.keys(), reasons={
            **kind.reasons, **{cap: f"memtui could not apply it to this script: {why}" for cap, why in refused.items()
                               if cap != BATCH}})

    def _batch_capability(self, config: RunConfig) -> RunKind:
        script = command_of(config)
        if script.batch_refused:  # the hook said why it could not set the batch memtui asked for
            return dataclasses.replace(SCRIPT_FIXED_BATCH["unread"], reasons={
                **SCRIPT_FIXED_BATCH["unread"].reasons,
                BATCH: f"memtui could not set this script's batch: {script.batch_refused}"})
        if script.has_placeholder:
            return SCRIPT  # known before any fit(): the command itself carries it
        if script.batch_control == "none":
            return SCRIPT_FIXED_BATCH["none"]
        if script.batch_control == "unknown":
            # memtui sets the batch (--batch-size): fit() will say whether it could.
            return SCRIPT if script.set_batch else SCRIPT_FIXED_BATCH["unknown"]
        if not (script.set_batch or script.batch_known):
            return SCRIPT_FIXED_BATCH["unread"]
        return SCRIPT

    def launch_spec(self, config: RunConfig, run_dir: str | Path, environ: Mapping[str, str]) -> dict[str, Any]:
        return launch_spec(config, run_dir, environ)

    def record(self, config: RunConfig) -> dict[str, Any]:
        script = command_of(config)
        return {"kind": self.name, "command": list(script.argv), "workdir": script.workdir}

    def describe(self, config: RunConfig) -> dict[str, Any]:
        """The script, not the built-in trainer's fields (its image size, model and
        epochs describe nothing that runs). The batch and the backend are None until
        known: memtui sets the batch or the script's fit() reports it, and the script's
        own KERAS_BACKEND is seen in its run_start."""
        script = command_of(config)
        learned = script.batch_control != "unknown"  # a run_start of the script was seen
        return {
            "kind": self.name, "command": list(script.argv), "workdir": script.workdir,
            "backend": config.backend if learned else None, "model": script.model,
            "batch_size": config.batch_size if self.batch_known(config) else None,
            "memtui_sets_batch": script.set_batch, "memory_growth": config.memory_growth,
            "gpu_memory_limit": config.gpu_memory_limit, "mixed_precision": config.mixed_precision,
            "grad_accum": config.grad_accum, "xla": script.xla, "host_memory_limit": config.host_memory_limit,
            "steps_per_epoch": config.steps_per_epoch, "backup_dir": config.backup_dir,
            "in_force": self.in_force(config),
        }

    def in_force(self, config: RunConfig) -> list[str]:
        script = command_of(config)
        words = [f"batch {config.batch_size}"] if script.set_batch else []
        if config.memory_growth:
            words.append("memory growth")
        if config.gpu_memory_limit:
            words.append(f"GPU cap {config.gpu_memory_limit} MB")
        if config.mixed_precision:
            words.append("mixed precision")
        if config.grad_accum > 1:
            words.append(f"accumulate ×{config.grad_accum}")
        if not script.xla:
            words.append("XLA off")
        if config.host_memory_limit:
            words.append(f"host limit {config.host_memory_limit} MB")
        if config.steps_per_epoch:
            words.append(f"at most {config.steps_per_epoch} steps per epoch")
        return words

    def hook_blocked(self, config: RunConfig) -> str | None:
        return hook_blocked(command_of(config).argv)

    def learn(self, config: RunConfig, run_start: Mapping[str, Any]) -> RunConfig:
        return learn(config, run_start)

    def resume_note(self, run_start: Mapping[str, Any], relaunch: bool) -> str | None:
        return resume_note(run_start, relaunch)

    def watch_note(self, run_path: Path, waited: float, fit_seen: bool) -> tuple[bool, str | None]:
        if fit_seen:
            return True, None  # nothing to say: steps show
        if waited < HOOK_WAIT:
            return False, None
        if not (run_path / HELLO_FILE).exists():
            return True, HOOK_MISSING.format(wait=HOOK_WAIT)
        if waited >= FIT_WAIT:
            return True, NO_FIT_YET
        return False, None

    def ending_note(self, run_path: Path, fit_seen: bool, exit_code: int | None, stopped: bool) -> str | None:
        if fit_seen:
            return None
        if not (run_path / HELLO_FILE).exists():
            return HOOK_MISSING.format(wait=HOOK_WAIT)
        if exit_code == 0 or stopped:
            return NO_FIT  # a crash before fit() is the verdict's to explain
        return None

    def identity(self, config: RunConfig) -> RunConfig:
        return config.replace(backend="tensorflow", script=replace(
            command_of(config), batch_control="unknown", batch_known=False, model=None, refused=()))

    def workdir(self, config: RunConfig) -> str | None:
        return command_of(config).workdir

    def batch_known(self, config: RunConfig) -> bool:
        script = command_of(config)
        return script.set_batch or script.batch_known

    def setting_batch(self, config: RunConfig) -> RunConfig:
        script = command_of(config)
        return config if script.set_batch else config.replace(script=replace(script, set_batch=True))

    def xla_on(self, config: RunConfig) -> bool | None:
        return command_of(config).xla

    def with_xla(self, config: RunConfig, on: bool) -> RunConfig:
        return config.replace(script=replace(command_of(config), xla=on))

    def probe(self, config: RunConfig, batch: int, steps: int) -> RunConfig:
        # memtui sets the batch, Keras stops each fit() after `steps` steps and one
        # epoch (KERAS_MAX_STEPS_PER_EPOCH / KERAS_MAX_EPOCHS).
        script = replace(command_of(config), set_batch=True, max_epochs=1)
        return config.replace(batch_size=batch, steps_per_epoch=steps, backup_dir=None, script=script)

    def probe_unanswered(self, config: RunConfig, oomed: bool) -> str | None:
        script = command_of(config)
        if script.has_placeholder or script.batch_control in ("arrays", "rebatch", "placeholder"):
            return None
        if script.batch_control == "unknown":
            if oomed:
                return None  # out of memory before any fit(): this batch does not fit either way
            return "no Keras fit() was seen in the probe, so the batch it tried was never used"
        return self.capabilities(config).why_not(BATCH)

    def command_tail(self, config: RunConfig) -> tuple[list[str], str]:
        script = command_of(config)
        return (["--no-xla"] if not script.xla else []), " -- " + shlex.join(script.argv)
