"""The built-in trainer as a run kind: `python -m trainer` on the seed's CNNs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainer.config import ConfigError, RunConfig
from tui.kinds.base import Kind
from tui.kinds.capabilities import BUILTIN, RunKind


class BuiltinKind(Kind):
    name = BUILTIN.name
    subject = "the trainer"
    process = "the trainer"
    fresh_run = "a fresh trainer process"

    def capabilities(self, config: RunConfig) -> RunKind:
        return BUILTIN

    def as_ran(self, config: RunConfig, run_start: Mapping[str, Any]) -> RunConfig:
        """The demo on a CPU-only host trains at a smaller image size than asked; run_start says which."""
        size = run_start.get("image_size")
        if isinstance(size, int) and size != config.image_size:
            try:
                return config.replace(image_size=size)
            except ConfigError:
                return config
        return config
