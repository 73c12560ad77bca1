"""Each remedy's words for a verdict: why it fits the evidence, and, for advice
that memtui cannot apply itself, what to do.

`why_*(kind, details, config)` returns one sentence, or None when the remedy is
not for this case (the config has nothing to change, or no config says so);
`advise_*(config, details)` the advice's title. The remedy table
(`tui.remedies.table`) holds each pair in its remedy's entry. `kind` is the
verdict's kind (`tui.common.verdict`), `details` its details.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainer.config import RunConfig
from tui.common.backendwords import words_for
from tui.common.units import format_bytes
from tui.common.verdict import HOST_OOM, LIBRARY_ERROR, OTHER_PROCESSES, PROBABLE_OOM

Details = Mapping[str, Any]


def why_halve(kind: str, details: Details, config: RunConfig | None) -> str | None:
    size = details.get("requested_bytes")
    tensor = f" the failing {format_bytes(size, spaced=True)} tensor" if isinstance(size, int) else " activation memory"
    if kind == HOST_OOM:
        return "Each batch's images and activations live in host memory; half the batch needs about half of it."
    return f"Activations grow with the batch, so halving it about halves{tensor}."


def why_halve_accum(kind: str, details: Details, config: RunConfig | None) -> str | None:
    return "Half the batch about halves activation memory; twice the accumulation keeps the examples per update."


def why_accum(kind: str, details: Details, config: RunConfig | None) -> str | None:
    if config is not None and config.batch_size <= 1:
        return None
    return "After halving the batch, doubling accumulation keeps the examples per weight update the same."


def why_growth(kind: str, details: Details, config: RunConfig | None) -> str | None:
    said = words_for(details.get("backend")).growth_why
    if said is not None:
        return said
    return {
        PROBABLE_OOM: "cuDNN and cuBLAS need memory outside TensorFlow's pool; with growth on it is left for them.",
        LIBRARY_ERROR: "If the versions match, the handle may still have lacked memory: growth leaves room for it.",
        OTHER_PROCESSES: "With growth on TensorFlow takes only what it needs, so it can share the GPU.",
    }.get(kind, "Without growth TensorFlow reserves the whole GPU at start; growth takes memory as needed.")


def why_precision(kind: str, details: Details, config: RunConfig | None) -> str | None:
    return "float16 activations take half the memory of float32 ones."


def why_xla_off(kind: str, details: Details, config: RunConfig | None) -> str | None:
    if config is None:
        return None  # only a run whose model XLA compiles has it to turn off
    return ("XLA compiles the whole step into one program whose buffers must all fit at once; "
            "without it TensorFlow frees as it goes.")


def why_small_model(kind: str, details: Details, config: RunConfig | None) -> str | None:
    if config is None:
        return None  # only the large CNN has a smaller sibling
    return "The reduced CNN has half the filters: about a quarter of the parameters and half the activations."


def why_image_size(kind: str, details: Details, config: RunConfig | None) -> str | None:
    if config is not None and config.image_size <= 64:
        return None
    return "Activation memory grows with the pixels: half the side is a quarter of the memory."


def advise_image_size(config: RunConfig | None, details: Details) -> str:
    half = f" (--image-size {config.image_size // 2})" if config else ""
    return f"use smaller images{half}"


def why_gpu_cap(kind: str, details: Details, config: RunConfig | None) -> str | None:
    if config is None or config.gpu_memory_limit is None:
        return None
    return words_for(config.backend).capped


def advise_gpu_cap(config: RunConfig | None, details: Details) -> str:
    now = f" (now {config.gpu_memory_limit} MB)" if config is not None else ""
    return f"raise or remove --gpu-memory-limit{now}"


def why_buffers(kind: str, details: Details, config: RunConfig | None) -> str | None:
    if config is not None and config.shuffle_buffer <= 64 and config.prefetch in (0, 1):
        return None
    return "Shuffled and prefetched images wait in host memory."


def advise_buffers(config: RunConfig | None, details: Details) -> str:
    now = (f" (now {config.shuffle_buffer} and {'AUTOTUNE' if config.prefetch == -1 else config.prefetch})"
           if config else "")
    return f"smaller shuffle and prefetch buffers, e.g. --shuffle-buffer 256 --prefetch 1{now}"


def why_host_limit(kind: str, details: Details, config: RunConfig | None) -> str | None:
    if config is None or config.host_memory_limit is None:
        return None
    return "The address-space limit, not the machine, ran out."


def advise_host_limit(config: RunConfig | None, details: Details) -> str:
    now = f" (now {config.host_memory_limit} MB)" if config is not None else ""
    return f"raise --host-memory-limit{now}"


def why_other_processes(kind: str, details: Details, config: RunConfig | None) -> str | None:
    if not details.get("other_processes"):
        return "The memory was taken before training started."
    return "These processes held the memory before training started; stop them or use another GPU."


def advise_other_processes(config: RunConfig | None, details: Details) -> str:
    holders = details.get("other_processes") or []
    if not holders:
        return "free the GPU: other processes held its memory at launch"
    names = ", ".join(
        f"pid {p['pid']} {p['name']}" + (f" ({format_bytes(p['bytes'], spaced=True)})" if p.get("bytes") else "")
        for p in holders[:3]
    )
    return f"free the GPU: {names}"


def why_tf_data(kind: str, details: Details, config: RunConfig | None) -> str | None:
    return "A whole numpy array copied to the GPU at once fails as 'Dst tensor is not initialized'."


def why_async_allocator(kind: str, details: Details, config: RunConfig | None) -> str | None:
    return "The async allocator failed; the default BFC allocator packs memory differently."


def why_check_versions(kind: str, details: Details, config: RunConfig | None) -> str | None:
    return ("A handle that cannot be created with memory to spare, or a named version mismatch, "
            "is a library or driver problem.")


def why_jax_preallocate(kind: str, details: Details, config: RunConfig | None) -> str | None:
    return ("JAX reserves 75% of the GPU at start; without preallocation it takes memory as needed "
            "and leaves room for cuDNN and other processes.")


def why_jax_mem_fraction(kind: str, details: Details, config: RunConfig | None) -> str | None:
    return "The fraction is JAX's memory cap; lower it when others share the GPU."


def why_torch_expandable(kind: str, details: Details, config: RunConfig | None) -> str | None:
    reserved = details.get("reserved_unallocated")
    held = f" ({format_bytes(reserved, spaced=True)} reserved but unallocated)" if isinstance(reserved, int) else ""
    return f"PyTorch's cache held memory it could not use{held}: expandable segments reduce fragmentation."
