"""A run kind's behaviour: what memtui asks of a kind instead of testing the config.

One `Kind` object per kind (the built-in trainer, the user's own script), named
by `RunConfig.kind`. The supervisor asks it how to launch and what to record,
the watcher what it learns from the run's events and what to say while it runs,
the diagnosis how to name what ran, the remedies whether the batch is known and
where XLA is switched, find-batch how to probe. A new kind is one subclass and
one line in `tui.kinds.KINDS`; a method left as it is here keeps the built-in
trainer's behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainer.config import RunConfig
from tui.kinds.capabilities import RunKind


class Kind:
    """The behaviour of one kind of run. Every method is pure, or reads the run folder only."""

    name: str = ""  # RunConfig.kind, and `kind` in meta.json
    subject: str = ""  # who acts in the verdict's sentences: "the trainer", "your script"
    process: str = ""  # the process, plainly: "the trainer", "the script"
    fresh_run: str = ""  # what each attempt starts: "a fresh trainer process"
    user_code: bool = False  # the user's own program: its exit 2 is no refusal, its frames are pointed at
    uses_spare: bool = True  # a relaunch may go to the warm spare (a built-in trainer started ahead)
    spare_refusal: str | None = None  # why this kind never uses the spare (said once)
    options: frozenset[str] | None = None  # the RunConfig fields that are options of this kind (None: all)
    counts_examples: bool = True  # memtui can count one epoch's examples (find-batch's data bound)

    # --- capabilities ----------------------------------------------------------

    def capabilities(self, config: RunConfig) -> RunKind:
        raise NotImplementedError

    # --- launching -------------------------------------------------------------

    def launch_spec(self, config: RunConfig, run_dir: str | Path, environ: Mapping[str, str]) -> dict[str, Any] | None:
        """What the reaper starts instead of `python -m trainer` (meta.json's `launch`); None: the trainer."""
        return None

    def record(self, config: RunConfig) -> dict[str, Any]:
        """What meta.json says about the run's kind, so listings need not read its config."""
        return {"kind": self.name}

    def describe(self, config: RunConfig) -> dict[str, Any]:
        """The config as a record of the run shows it (headless JSON's `start` and
        `relaunch`): what runs and the settings that decide its memory."""
        return config.to_dict()

    def in_force(self, config: RunConfig) -> list[str]:
        """The settings memtui changes from outside, in words, where the config's
        own words (`tui.kinds.words`) do not already say them all; [] for none."""
        return []

    def hook_blocked(self, config: RunConfig) -> str | None:
        """The option of the command that keeps memtui's hook out, if any."""
        return None

    # --- while it runs -----------------------------------------------------------

    def learn(self, config: RunConfig, run_start: Mapping[str, Any]) -> RunConfig:
        """`config` with what a run_start taught (keys, remedies and recovery ask that)."""
        return config

    def as_ran(self, config: RunConfig, run_start: Mapping[str, Any]) -> RunConfig:
        """The config as the run really trained, from its first run_start (a stored run's)."""
        return self.learn(config, run_start)

    def resume_note(self, run_start: Mapping[str, Any], relaunch: bool) -> str | None:
        """Whether this run continues from memtui's backup, in words, where it is worth saying."""
        return None

    def watch_note(self, run_path: Path, waited: float, fit_seen: bool) -> tuple[bool, str | None]:
        """(nothing more to watch for, a note to show) while the run goes: say why no steps show."""
        return True, None

    def ending_note(self, run_path: Path, fit_seen: bool, exit_code: int | None, stopped: bool) -> str | None:
        """A note at the end of a run that showed no steps, where the verdict would not say why."""
        return None

    # --- what the run is --------------------------------------------------------------

    def identity(self, config: RunConfig) -> RunConfig:
        """The config without what was only learned (for "was this already tried?")."""
        return config

    def workdir(self, config: RunConfig) -> str | None:
        """The folder of the user's own files (frames there are theirs), None for memtui's."""
        return None

    # --- what remedies and find-batch change ----------------------------------------------

    def batch_known(self, config: RunConfig) -> bool:
        """`config.batch_size` is the batch the run trains with."""
        return True

    def setting_batch(self, config: RunConfig) -> RunConfig:
        """`config` with memtui setting the batch itself (a script kept its own until now)."""
        return config

    def xla_on(self, config: RunConfig) -> bool | None:
        """Whether XLA is on for the run's model; None: the kind has no XLA switch."""
        return None

    def with_xla(self, config: RunConfig, on: bool) -> RunConfig:
        raise ValueError(f"a {self.name} run has no XLA switch")

    def probe(self, config: RunConfig, batch: int, steps: int) -> RunConfig:
        """The short run that answers "does `batch` fit?" (backups left to the finder's session)."""
        return config.replace(batch_size=batch, epochs=1, steps_per_epoch=steps, validation_split=0.0,
                              backup_dir=None)

    def probe_unanswered(self, config: RunConfig, oomed: bool) -> str | None:
        """Why a probe that ended answers nothing about its batch (its fit() kept its own), or None."""
        return None

    def command_tail(self, config: RunConfig) -> tuple[list[str], str]:
        """The flags a memtui command line adds for this kind, and what follows them ("-- argv")."""
        return [], ""
