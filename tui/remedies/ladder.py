"""The automatic-recovery ladder: remedies in the order recovery climbs them.

Rung ids are remedy ids from `tui.remedies.table`, plus "halve-batch-further",
the last rung, which halves the batch again without doubling accumulation and
may be climbed more than once. A rung the run's kind cannot have is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from trainer.config import RunConfig
from tui.common.verdict import HOST_OOM
from tui.kinds import BATCH, RunKind, kind_of
from tui.remedies.changes import (
    Change,
    NoRemedy,
    halve_batch,
    toggle_memory_growth,
    toggle_mixed_precision,
    toggle_model,
    toggle_xla,
)
from tui.remedies.table import REMEDIES

FURTHER = "halve-batch-further"
LADDER = ("memory-growth", "halve-batch", "mixed-precision", "xla-off", "small-model", FURTHER)


def next_rung(cfg: RunConfig, tried: Sequence[str], min_batch: int = 1, kind: str | None = None,
              run_kind: RunKind | None = None) -> Change | None:
    """The next remedy on the ladder that changes something, or None when it is
    exhausted. `tried` holds the rung ids already climbed in this chain. With
    `kind` = host OOM (the verdict's kind), rungs that only touch GPU memory
    (growth, XLA) are skipped; `run_kind` (default: the config's) decides which rungs exist."""
    run_kind = run_kind or kind_of(cfg)
    for rung in LADDER:
        if rung in tried and rung != FURTHER:
            continue
        if kind == HOST_OOM and rung in ("memory-growth", "xla-off"):
            continue  # they change how GPU memory is used, not the host's
        needs = BATCH if rung == FURTHER else REMEDIES[rung].needs
        if not run_kind.allows(needs):
            continue
        try:
            return _RUNGS[rung](cfg, min_batch)
        except NoRemedy:
            continue
    return None


def _growth_on(cfg: RunConfig, _min_batch: int) -> Change:
    if cfg.memory_growth:
        raise NoRemedy("memory growth is already on")
    return toggle_memory_growth(cfg)


def _precision_on(cfg: RunConfig, _min_batch: int) -> Change:
    if cfg.mixed_precision:
        raise NoRemedy("mixed precision is already on")
    return toggle_mixed_precision(cfg)


def _xla_off(cfg: RunConfig, _min_batch: int) -> Change:
    if cfg.script is None or not cfg.script.xla:
        raise NoRemedy("XLA is already off")
    return toggle_xla(cfg)


def _small_model(cfg: RunConfig, _min_batch: int) -> Change:
    if cfg.model == "small":
        raise NoRemedy("the reduced CNN is already in use")
    return toggle_model(cfg)


_RUNGS: dict[str, Callable[[RunConfig, int], Change]] = {
    "memory-growth": _growth_on,
    "halve-batch": lambda cfg, m: halve_batch(cfg, keep_effective=True, min_batch=m),
    "mixed-precision": _precision_on,
    "xla-off": _xla_off,
    "small-model": _small_model,
    FURTHER: lambda cfg, m: halve_batch(cfg, min_batch=m),
}
