"""Every remedy memtui knows, in one table.

One remedy, one id: the diagnosis ranks ids, the ladder climbs them, headless
mode prints their words, and the screen's keys table (`tui.ui.widgets.keys`)
maps ids to letters. Each entry names the capability a run kind must have for
it to apply (`tui.kinds`), and the pure function that makes the change where
memtui can make it itself (None: advice the person follows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trainer.config import RunConfig
from tui.kinds import (
    ACCUMULATION,
    BATCH,
    DATA_BUFFERS,
    GPU_CAP,
    IMAGE_SIZE,
    MEMORY_GROWTH,
    MIXED_PRECISION,
    MODEL_SWITCH,
    XLA,
    RunKind,
    kind_of,
)
from tui.remedies.changes import (
    Change,
    NoRemedy,
    double_accumulation,
    halve_batch,
    toggle_memory_growth,
    toggle_mixed_precision,
    toggle_model,
    toggle_xla,
)


@dataclass(frozen=True)
class RemedySpec:
    id: str
    words: str  # the generic title, when there is no config to say it precisely
    needs: str | None  # the capability a run kind must have (None: any run)
    change: Callable[[RunConfig], Change] | None = None  # None: advice only


TABLE: tuple[RemedySpec, ...] = (
    RemedySpec("halve-batch", "halve the batch", BATCH, halve_batch),
    RemedySpec("grad-accum", "double gradient accumulation", ACCUMULATION, double_accumulation),
    RemedySpec("memory-growth", "turn memory growth on", MEMORY_GROWTH, toggle_memory_growth),
    RemedySpec("mixed-precision", "turn mixed precision on", MIXED_PRECISION, toggle_mixed_precision),
    RemedySpec("small-model", "switch to the reduced CNN", MODEL_SWITCH, toggle_model),
    RemedySpec("xla-off", "turn XLA off", XLA, toggle_xla),
    RemedySpec("image-size", "use smaller images", IMAGE_SIZE),
    RemedySpec("gpu-cap", "raise or remove --gpu-memory-limit", GPU_CAP),
    RemedySpec("buffers", "smaller shuffle and prefetch buffers", DATA_BUFFERS),
    RemedySpec("host-limit", "raise --host-memory-limit", None),
    RemedySpec("other-processes", "free the GPU", None),
    RemedySpec("tf-data", "feed the data through tf.data in batches", None),
    RemedySpec("async-allocator", "try without TF_GPU_ALLOCATOR=cuda_malloc_async", None),
    RemedySpec("check-versions", "check the CUDA, cuDNN and driver versions", None),
    RemedySpec("jax-preallocate", "set XLA_PYTHON_CLIENT_PREALLOCATE=false", None),
    RemedySpec("jax-mem-fraction", "set XLA_PYTHON_CLIENT_MEM_FRACTION", None),
    RemedySpec("torch-expandable", "set PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True", None),
)
REMEDIES: dict[str, RemedySpec] = {spec.id: spec for spec in TABLE}


def applies(remedy_id: str, kind: RunKind) -> bool:
    """This remedy can be applied to a run of this kind."""
    spec = REMEDIES.get(remedy_id)
    return spec is not None and kind.allows(spec.needs)


def change_for(remedy_id: str, config: RunConfig, kind: RunKind | None = None) -> Change:
    """The Change a remedy makes to `config`; NoRemedy (with the reason in
    words) when the kind cannot have it or the config would not change."""
    spec = REMEDIES[remedy_id]
    kind = kind or kind_of(config)
    if not kind.allows(spec.needs):
        raise NoRemedy(kind.why_not(spec.needs or ""))
    if spec.change is None:
        raise NoRemedy(f"{spec.words}: memtui cannot make this change itself")
    return spec.change(config)
