"""The user's own command, as a run's config holds it (`RunConfig.script`).

A run of the user's own Keras script (`memtui -- python train.py ...`) keeps
the settings memtui changes from outside in the ordinary RunConfig fields
(`batch_size`, `memory_growth`, `gpu_memory_limit`, `mixed_precision`,
`grad_accum`, `host_memory_limit`, `steps_per_epoch`, `backup_dir`) and
everything about the command here: the argv as typed (with any
`{batch_size}` placeholder left in), the folder it runs in, the XLA switch,
and whether memtui sets the batch at all (without --batch-size, the
placeholder or a batch remedy, the script keeps its own).

The last three fields are not settings but what the script's `run_start`
said (memtui folds them in as the attempt runs, see tui/kinds/script.py):
how its batch can be set, whether that batch is known, and the model's name.
They travel with the config so remedies, keys and the ladder can ask the
run's kind whether the batch can be changed.

Stdlib only, like trainer/config.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

PLACEHOLDER = "{batch_size}"  # the same as trainer.hookspec.PLACEHOLDER
# How the batch of the script's fit() input can be set (run_start.batch_control),
# plus "unknown" (no fit() seen yet) and "none" (a generator, a PyDataset).
BATCH_CONTROLS = ("unknown", "none", "arrays", "rebatch", "placeholder")


class CommandError(ValueError):
    """A bad `script` value in a config file, in one line."""


@dataclass(frozen=True)
class ScriptCommand:
    argv: tuple[str, ...]
    workdir: str
    xla: bool = True  # False: memtui compiles the script's model with jit_compile=False
    set_batch: bool = False  # memtui sets the batch (RunConfig.batch_size); else the script keeps its own
    max_epochs: int | None = None  # find-batch's probes: at most this many epochs per fit()
    # What the script's run_start said (see the module's docstring):
    batch_control: str = "unknown"
    batch_known: bool = False  # RunConfig.batch_size is the batch the script trains with
    model: str | None = None
    # What the hook could not apply of what memtui asked for, and why (run_start's
    # not_applied, asked ones): (change id, why) pairs, e.g. ("grad-accum", "the script sets its own ...").
    refused: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        check(self)

    @property
    def batch_refused(self) -> str | None:
        """Why the hook could not set the batch memtui asked for (None: it could, or none was asked)."""
        return dict(self.refused).get("batch")

    @property
    def has_placeholder(self) -> bool:
        return any(PLACEHOLDER in arg for arg in self.argv)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "config") -> ScriptCommand:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CommandError(f"{source}: script: unknown keys {', '.join(unknown)}")
        values = dict(data)
        if isinstance(values.get("argv"), list):
            values["argv"] = tuple(values["argv"])
        if isinstance(values.get("refused"), list):  # JSON keeps the pairs as lists
            values["refused"] = tuple(tuple(p) if isinstance(p, list) else p for p in values["refused"])
        try:
            return cls(**values)
        except TypeError as exc:
            raise CommandError(f"{source}: script: {exc}") from None


def check(cmd: ScriptCommand) -> None:
    """Raise CommandError naming the first bad field."""
    if not isinstance(cmd.argv, tuple) or not cmd.argv or not all(isinstance(a, str) for a in cmd.argv):
        raise CommandError("the command must be a non-empty list of words, e.g. python train.py")
    if not cmd.argv[0]:
        raise CommandError("the command's program name is empty")
    if not isinstance(cmd.workdir, str) or not cmd.workdir:
        raise CommandError("the command's working folder must be a path")
    for name in ("xla", "set_batch", "batch_known"):
        if not isinstance(getattr(cmd, name), bool):
            raise CommandError(f"script.{name} must be true or false")
    if cmd.max_epochs is not None and (isinstance(cmd.max_epochs, bool) or not isinstance(cmd.max_epochs, int)
                                       or cmd.max_epochs < 1):
        raise CommandError(f"script.max_epochs must be a whole number of at least 1, not {cmd.max_epochs!r}")
    if cmd.batch_control not in BATCH_CONTROLS:
        raise CommandError(f"script.batch_control must be one of {', '.join(BATCH_CONTROLS)}")
    if cmd.model is not None and not isinstance(cmd.model, str):
        raise CommandError("script.model must be a name")
    if not isinstance(cmd.refused, tuple) or not all(
            isinstance(p, tuple) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in cmd.refused):
        raise CommandError("script.refused must be a list of [change, why] pairs")
