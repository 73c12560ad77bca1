"""Remedies ranked for one verdict: the evidence decides the order.

Only remedies that change something for this config, and that the run's kind
can have, are offered; each remedy's id and title come from the remedy table
(`tui.remedies.table`), so the screen, the CLI and automatic recovery use the
same words. The diagnosis does not know the keyboard: the screen's keys table
maps ids to letters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trainer.config import RunConfig
from tui.common.units import format_bytes
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
from tui.remedies.changes import NoRemedy

_GPU_KINDS = (DEVICE_OOM, XLA_OOM, ASYNC_OOM, OTHER_PROCESSES)


def rank(kind: str, details: dict[str, Any], config: RunConfig | None, started: bool | None) -> tuple[Remedy, ...]:
    """`started`: True when steps ran before the OOM, False when it came at
    start-up, None when unknown (a bare log)."""
    order: list[str]
    if kind == OTHER_PROCESSES:
        order = ["who", "memory-growth", "halve-batch", "mixed-precision", "small-model", "image-size"]
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
        order.append("async")
    run_kind = kind_of(config) if config is not None else None
    order = _in_backend_terms(order, details, run_kind is not None and run_kind.allows(MEMORY_GROWTH))
    out: list[Remedy] = []
    for rid in order:
        remedy = _BUILDERS[rid](kind, details, config)
        if remedy is not None and (run_kind is None or table.applies(remedy.id, run_kind)):
            out.append(remedy)
    return tuple(out)


def _in_backend_terms(order: list[str], details: dict[str, Any], sets_growth: bool = False) -> list[str]:
    """JAX's memory growth is no preallocation, its cap a memory fraction;
    PyTorch has no memory growth to turn on but can expand its segments.
    `sets_growth`: the run's kind turns growth on itself (the built-in trainer
    on JAX sets XLA_PYTHON_CLIENT_PREALLOCATE=false), so it stays a remedy."""
    backend = details.get("backend")
    if backend == "jax" and sets_growth:
        return order
    if backend == "jax":
        swapped: list[str] = []
        for rid in order:
            swapped += ["jax-preallocate", "jax-mem-fraction"] if rid == "memory-growth" else [rid]
        return swapped
    if backend == "torch":
        order = [rid for rid in order if rid != "memory-growth"]
        return ["torch-expandable", *order] if _reserved_is_large(details) else order
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


def _from_table(rid: str, why: str, config: RunConfig | None) -> Remedy | None:
    """The remedy with the words of its change for this config; None when the
    run's kind cannot have it or it would change nothing."""
    spec = table.REMEDIES[rid]
    if config is None:
        return Remedy(rid, spec.words, why)
    if not table.applies(rid, kind_of(config)):
        return None
    try:
        change = table.change_for(rid, config)
    except NoRemedy:
        return None
    return Remedy(rid, change.reason, why)


def _halve(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    size = details.get("requested_bytes")
    tensor = f" the failing {format_bytes(size, spaced=True)} tensor" if isinstance(size, int) else " activation memory"
    if kind == HOST_OOM:
        why = "Each batch's images and activations live in host memory; half the batch needs about half of it."
    else:
        why = f"Activations grow with the batch, so halving it about halves{tensor}."
    return _from_table("halve-batch", why, config)


def _accum(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    why = "After halving the batch, doubling accumulation keeps the examples per weight update the same."
    if config is not None and config.batch_size <= 1:
        return None
    return _from_table("grad-accum", why, config)


def _growth(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    if config is not None and config.memory_growth:
        return None
    why = {
        PROBABLE_OOM: "cuDNN and cuBLAS need memory outside TensorFlow's pool; with growth on it is left for them.",
        LIBRARY_ERROR: "If the versions match, the handle may still have lacked memory: growth leaves room for it.",
        OTHER_PROCESSES: "With growth on TensorFlow takes only what it needs, so it can share the GPU.",
    }.get(kind, "Without growth TensorFlow reserves the whole GPU at start; growth takes memory as needed.")
    if details.get("backend") == "jax":
        why = ("JAX preallocates 75% of the GPU at start; without preallocation it takes memory as needed and "
               "leaves room for cuDNN and other processes.")
    return _from_table("memory-growth", why, config)


def _precision(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    if config is not None and config.mixed_precision:
        return None
    why = "float16 activations take half the memory of float32 ones."
    return _from_table("mixed-precision", why, config)


def _xla_off(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    if config is None or config.script is None or not config.script.xla:
        return None  # only a script's model is compiled with XLA, and only while it is on
    why = ("XLA compiles the whole step into one program whose buffers must all fit at once; "
           "without it TensorFlow frees as it goes.")
    return _from_table("xla-off", why, config)


def _small_model(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    if config is None or config.model != "large":
        return None  # only the large CNN has a smaller sibling
    why = "The reduced CNN has half the filters: about a quarter of the parameters and half the activations."
    return _from_table("small-model", why, config)


def _image_size(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    if config is not None and config.image_size <= 64:
        return None
    size = config.image_size if config else None
    half = f" (--image-size {size // 2})" if size else ""
    return Remedy("image-size", f"use smaller images{half}",
                  "Activation memory grows with the pixels: half the side is a quarter of the memory.")


def _who(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    holders = details.get("other_processes") or []
    if not holders:
        return Remedy("other-processes", "free the GPU: other processes held its memory at launch",
                      "The memory was taken before training started.")
    names = ", ".join(
        f"pid {p['pid']} {p['name']}" + (f" ({format_bytes(p['bytes'], spaced=True)})" if p.get("bytes") else "")
        for p in holders[:3]
    )
    return Remedy("other-processes", f"free the GPU: {names}",
                  "These processes held the memory before training started; stop them or use another GPU.")


def _buffers(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    if config is not None and config.shuffle_buffer <= 64 and config.prefetch in (0, 1):
        return None
    now = f" (now {config.shuffle_buffer} and {'AUTOTUNE' if config.prefetch == -1 else config.prefetch})" \
        if config else ""
    return Remedy("buffers", f"smaller shuffle and prefetch buffers, e.g. --shuffle-buffer 256 --prefetch 1{now}",
                  "Shuffled and prefetched images wait in host memory.")


def _host_limit(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    if config is None or config.host_memory_limit is None:
        return None
    return Remedy("host-limit", f"raise --host-memory-limit (now {config.host_memory_limit} MB)",
                  "The address-space limit, not the machine, ran out.")


def _gpu_cap(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    if config is None or config.gpu_memory_limit is None:
        return None
    if config.backend == "jax":
        return Remedy("gpu-cap", f"raise or remove --gpu-memory-limit (now {config.gpu_memory_limit} MB)",
                      "JAX was capped below the GPU's size (XLA_PYTHON_CLIENT_MEM_FRACTION, a fraction of its total).")
    return Remedy("gpu-cap", f"raise or remove --gpu-memory-limit (now {config.gpu_memory_limit} MB)",
                  "TensorFlow was capped below the GPU's size.")


def _tf_data(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    return Remedy("tf-data", "feed the data through tf.data in batches instead of one in-memory array",
                  "A whole numpy array copied to the GPU at once fails as 'Dst tensor is not initialized'.")


def _async(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    return Remedy("async-allocator", "try without TF_GPU_ALLOCATOR=cuda_malloc_async",
                  "The async allocator failed; the default BFC allocator packs memory differently.")


def _check_versions(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    return Remedy("check-versions", "check the CUDA, cuDNN and driver versions against the ones your "
                  "TensorFlow/JAX/PyTorch build expects (nvidia-smi, pip list)",
                  "A handle that cannot be created with memory to spare, or a named version mismatch, "
                  "is a library or driver problem.")


def _jax_preallocate(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    return Remedy("jax-preallocate", "set XLA_PYTHON_CLIENT_PREALLOCATE=false (JAX's memory growth)",
                  "JAX reserves 75% of the GPU at start; without preallocation it takes memory as needed "
                  "and leaves room for cuDNN and other processes.")


def _jax_mem_fraction(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    return Remedy("jax-mem-fraction", "set XLA_PYTHON_CLIENT_MEM_FRACTION (e.g. .50) to cap JAX's share of the GPU",
                  "The fraction is JAX's memory cap; lower it when others share the GPU.")


def _torch_expandable(kind: str, details: dict[str, Any], config: RunConfig | None) -> Remedy | None:
    reserved = details.get("reserved_unallocated")
    held = f" ({format_bytes(reserved, spaced=True)} reserved but unallocated)" if isinstance(reserved, int) else ""
    return Remedy("torch-expandable", "set PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True",
                  f"PyTorch's cache held memory it could not use{held}: expandable segments reduce fragmentation.")


_BUILDERS: dict[str, Callable[[str, dict[str, Any], RunConfig | None], Remedy | None]] = {
    "halve-batch": _halve, "grad-accum": _accum, "memory-growth": _growth, "mixed-precision": _precision,
    "xla-off": _xla_off, "small-model": _small_model, "image-size": _image_size, "who": _who, "buffers": _buffers,
    "host-limit": _host_limit, "gpu-cap": _gpu_cap, "tf-data": _tf_data, "async": _async,
    "check-versions": _check_versions, "jax-preallocate": _jax_preallocate, "jax-mem-fraction": _jax_mem_fraction,
    "torch-expandable": _torch_expandable,
}
