"""The automatic-recovery ladder: remedies in the order recovery climbs them.

Rung ids are remedy ids from `tui.remedies.table`, climbed in the ladder's
mode (a rung only ever turns its remedy on, and is skipped when it is on
already). A rung the run's kind cannot have is skipped; a remedy that
`repeats` (halving the batch, the last rung) may be climbed again.
"""

from __future__ import annotations

from collections.abc import Sequence

from trainer.config import RunConfig
from tui.common.verdict import HOST_OOM
from tui.kinds import RunKind, kind_of
from tui.remedies.changes import Change, NoRemedy
from tui.remedies.table import BY_LADDER, REMEDIES

LADDER = ("memory-growth", "halve-batch-accum", "mixed-precision", "xla-off", "small-model", "halve-batch")


def next_rung(cfg: RunConfig, tried: Sequence[str], min_batch: int = 1, kind: str | None = None,
              run_kind: RunKind | None = None) -> Change | None:
    """The next remedy on the ladder that changes something, or None when it is
    exhausted. `tried` holds the rung ids already climbed in this chain. With
    `kind` = host OOM (the verdict's kind), rungs that only touch GPU memory
    (growth, XLA) are skipped; `run_kind` (default: the config's) decides which rungs exist."""
    run_kind = run_kind or kind_of(cfg)
    for rung in LADDER:
        remedy = REMEDIES[rung]
        if rung in tried and not remedy.repeats:
            continue
        if kind == HOST_OOM and remedy.gpu_only:
            continue  # they change how GPU memory is used, not the host's
        try:
            return remedy.change(cfg, BY_LADDER, min_batch, run_kind)
        except NoRemedy:
            continue
    return None
