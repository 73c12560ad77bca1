"""What the diagnosis says about how an attempt ended (shared by screen, headless, CLI)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Kinds of ending. OOM kinds are those in OOM_KINDS.
DEVICE_OOM = "device-oom"
XLA_OOM = "xla-oom"
ASYNC_OOM = "async-allocator-oom"
MASKED_OOM = "masked-oom"
PROBABLE_OOM = "probable-oom"
HOST_OOM = "host-oom"
OTHER_PROCESSES = "other-processes"
NOT_OOM = "crash"
STOPPED = "stopped"
FINISHED = "finished"
KILLED = "killed"  # by a signal, with no sign of memory trouble
LIBRARY_ERROR = "library-error"  # cuDNN/cuBLAS/CUDA driver or version problem, not memory
OOM_KINDS = frozenset({DEVICE_OOM, XLA_OOM, ASYNC_OOM, MASKED_OOM, PROBABLE_OOM, HOST_OOM, OTHER_PROCESSES})


@dataclass(frozen=True)
class Remedy:
    """One thing to try. `id` is the remedy table's (`tui.remedies.table`); the
    screen's keys table says which key, if any, applies it."""

    id: str  # "halve-batch", "memory-growth", "small-model", "mixed-precision", "grad-accum", ...
    title: str  # short words for a list, e.g. "halve the batch (32 → 16), accumulate ×2"
    why: str  # one sentence: why this fits the evidence


@dataclass(frozen=True)
class Verdict:
    kind: str
    summary: str  # one plain sentence
    evidence: tuple[str, ...] = ()  # lines from the trainer's log or events
    details: dict[str, Any] = field(default_factory=dict)  # requested_bytes, shape, device, allocator, ...
    remedies: tuple[Remedy, ...] = ()

    @property
    def is_oom(self) -> bool:
        return self.kind in OOM_KINDS

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["evidence"] = list(self.evidence)
        d["remedies"] = [asdict(r) for r in self.remedies]
        return d
