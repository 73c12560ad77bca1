"""Remedies ranked for one verdict: the evidence decides the order.

The order is this module's; everything else is the remedy's own
(`tui.remedies.table`): whether the run's kind can have it, whether it is on
already, its words for this config and why it fits the evidence. So the
screen, the CLI and automatic recovery use the same ids and words. The
diagnosis does not know the keyboard: the screen's keys table maps ids to
letters.
"""

from __future__ import annotations

from typing import Any

from trainer.config import RunConfig
from tui.common.backendwords import words_for
from tui.common.verdict import (
    ASYNC_OOM,
    DEVICE_OOM,
    HOST_OOM,
    LIBRARY_ERROR,
    MASKED_OOM,
    OTHER_PROCESSES,
    PROBABLE_OOM,
    XLA_OOM,
    Remedy,
)
from tui.diagnosis.patterns import parse_dims
from tui.kinds import MEMORY_GROWTH, kind_of
from tui.remedies import table

_GPU_KINDS = (DEVICE_OOM, XLA_OOM, ASYNC_OOM, OTHER_PROCESSES)


def rank(kind: str, details: dict[str, Any], config: RunConfig | None, started: bool | None) -> tuple[Remedy, ...]:
    """`started`: True when steps ran before the OOM, False when it came at
    start-up, None when unknown (a bare log)."""
    order: list[str]
    if kind == OTHER_PROCESSES:
        order = ["other-processes", "memory-growth", "halve-batch", "mixed-precision", "small-model", "image-size"]
    elif kind in _GPU_KINDS and started is False and not (config and config.memory_growth):
        order = ["memory-growth", "halve-batch", "mixed-precision", "small-model", "image-size"]
    elif kind in _GPU_KINDS and _is_weight_tensor(details, config):
        order = ["small-model", "mixed-precision", "image-size", "halve-batch", "memory-growth"]
    elif kind in _GPU_KINDS:
        order = ["halve-batch", "grad-accum", "mixed-precision", "xla-off", "small-model", "image-size", "gpu-cap",
                 "memory-growth"]
        if kind == XLA_OOM:  # XLA's own allocation failed: without XLA it may not be made at all
            order.insert(0, order.pop(order.index("xla-off")))
    elif kind == MASKED_OOM:
        order = ["tf-data", "halve-batch", "memory-growth", "image-size"]
    elif kind == PROBABLE_OOM:
        order = ["memory-growth", "halve-batch", "mixed-precision", "small-model"]
    elif kind == HOST_OOM:
        order = ["halve-batch", "buffers", "image-size", "host-limit", "small-model"]
    elif kind == LIBRARY_ERROR:
        order = ["check-versions", "memory-growth"]
    else:
        return ()
    if kind == ASYNC_OOM:
        order.append("async-allocator")
    run_kind = kind_of(config) if config is not None else None
    order = _in_backend_terms(order, details, run_kind is not None and run_kind.allows(MEMORY_GROWTH))
    offered = (table.REMEDIES[rid].offer(kind, details, config) for rid in order)
    return tuple(remedy for remedy in offered if remedy is not None)


def _in_backend_terms(order: list[str], details: dict[str, Any], sets_growth: bool = False) -> list[str]:
    """JAX's memory growth is no preallocation, its cap a memory fraction;
    PyTorch has no memory growth to turn on but can expand its segments.
    `sets_growth`: the run's kind turns growth on itself (the built-in trainer
    on JAX sets XLA_PYTHON_CLIENT_PREALLOCATE=false), so it stays a remedy."""
    said = words_for(details.get("backend"))
    if not (sets_growth and said.growth_advice):  # a backend without growth loses it even where a kind sets it
        swapped: list[str] = []
        for rid in order:
            swapped += list(said.growth_advice) if rid == "memory-growth" else [rid]
        order = swapped
    if said.advice_first_if_reserved and _reserved_is_large(details):
        return [said.advice_first_if_reserved, *order]
    return order


def _reserved_is_large(details: dict[str, Any]) -> bool:
    """PyTorch's message says how much it reserved but left unallocated; a
    tenth of the GPU (or a GiB when the total is not given) is large."""
    reserved = details.get("reserved_unallocated")
    if not isinstance(reserved, int):
        return False
    total = details.get("gpu_total")
    return reserved >= (0.1 * total if isinstance(total, int) and total > 0 else 2**30)


def _is_weight_tensor(details: dict[str, Any], config: RunConfig | None) -> bool:
    """A 2-D tensor whose first dimension is not the batch: a weight matrix
    (the big Dense kernel), so the model, not the batch, is what to shrink."""
    dims = parse_dims(details.get("shape") or "")
    return bool(dims and config and len(dims) == 2 and dims[0] != config.batch_size and dims[0] > 4096)
