"""Run kinds: what can be run under memtui, what each kind can change, and how it behaves.

A kind declares its capabilities (`tui.kinds.capabilities`: the settings memtui
can change from outside and what it can offer: a pre-flight estimate, resume)
and owns its behaviour (`tui.kinds.base.Kind`: how it launches, what it learns
from its events, the words for what ran). Remedies, the ladder, the estimate,
the footer's keys, find-batch, the supervisor and the diagnosis ask the kind,
never the config's fields: a new kind is one `Kind` subclass and one entry in
`KINDS` below (plus its capability record).
"""

from __future__ import annotations

from trainer.config import RunConfig
from tui.kinds.base import Kind
from tui.kinds.builtin import BuiltinKind
from tui.kinds.capabilities import (
    ACCUMULATION,
    BACKEND_CANNOT,
    BATCH,
    BATCH_REASONS,
    BUILTIN,
    CAPABILITIES,
    DATA_BUFFERS,
    GPU_CAP,
    IMAGE_SIZE,
    MEMORY_GROWTH,
    MIXED_PRECISION,
    MODEL_SWITCH,
    SCRIPT,
    SCRIPT_FIXED_BATCH,
    XLA,
    RunKind,
    on_backend,
)
from tui.kinds.scriptkind import ScriptKind

__all__ = ["ACCUMULATION", "BACKEND_CANNOT", "BATCH", "BATCH_REASONS", "BUILTIN", "CAPABILITIES",
           "DATA_BUFFERS", "GPU_CAP", "IMAGE_SIZE", "KINDS", "MEMORY_GROWTH",
           "MIXED_PRECISION", "MODEL_SWITCH", "SCRIPT", "SCRIPT_FIXED_BATCH", "XLA", "Kind", "RunKind", "kind_for",
           "kind_of", "on_backend"]

# RunConfig.kind -> its behaviour. trainer.config.RUN_KINDS names the same kinds.
KINDS: dict[str, Kind] = {k.name: k for k in (BuiltinKind(), ScriptKind())}


def kind_for(config: RunConfig | None) -> Kind:
    """The behaviour of the kind a config runs as (no config: an attached run's folder
    lost it; it is treated as the built-in trainer's, as before kinds were recorded)."""
    return KINDS[getattr(config, "kind", None) or BUILTIN.name]


def kind_of(config: RunConfig | None) -> RunKind:
    """What the kind a config runs as can change, on its backend: the built-in trainer's,
    or the user's own script's (whose batch capability depends on what its fit() was seen to get)."""
    caps = kind_for(config).capabilities(config) if config is not None else BUILTIN
    return on_backend(caps, getattr(config, "backend", None))
