"""Which kind of memory trouble the findings show, and the details they carry."""

from __future__ import annotations

from typing import Any

from trainer.protocol import Oom
from tui.common.verdict import (
    ASYNC_OOM,
    DEVICE_OOM,
    HOST_OOM,
    MASKED_OOM,
    OTHER_PROCESSES,
    PROBABLE_OOM,
    XLA_OOM,
)
from tui.diagnosis.patterns import Finding, is_host_allocator
from tui.telemetry.snapshot import Snapshot

# Most specific first: an async-allocator or XLA message says more than the
# generic ResourceExhaustedError that follows it; a 'Dst tensor' failure with a
# BFC line beneath it is a masked OOM, not a plain device OOM.
_ORDER = ("async", "xla-host", "xla", "torch", "oom-killer", "context", "oom-tensor", "masked", "allocator",
          "cuda-oom", "bad-alloc", "memory-error", "library-alloc", "handle", "probable", "thread",
          "resource-exhausted")
_DETAIL_KEYS = ("requested_bytes", "shape", "dtype", "device", "allocator", "peak_rss", "reserved_unallocated",
                "gpu_total", "what")
# What says a cuDNN/cuBLAS failure was memory: the allocator failing or
# warning, CUDA refusing allocations, or cuDNN reporting almost nothing free.
_MEMORY_SIGNS = frozenset({"library-alloc", "startup-retry", "allocator", "freed-by-count", "oom-tensor"})
_CUDNN_LOW = 0.05  # of the GPU free when the handle failed: memory
_CUDNN_PLENTY = 0.25  # of the GPU free: not memory
_OOM_EVENT_KINDS = {"device": DEVICE_OOM, "gpu": DEVICE_OOM, "host": HOST_OOM, "cpu": HOST_OOM,
                    "xla": XLA_OOM, "async": ASYNC_OOM}
# Others hold "a lot" of a GPU at launch from this share of its total.
OTHERS_SHARE = 0.10


def memory_kind(findings: list[Finding], oom: Oom | None) -> str | None:
    """The OOM kind the evidence shows, or None."""
    present = {f.what for f in findings}
    details = merged_details(findings, oom)
    allocator = details.get("allocator")
    device = str(details.get("device", ""))
    for what in _ORDER:
        if what not in present:
            continue
        if what == "async" or (allocator or "").startswith("gpu_async"):
            return ASYNC_OOM
        if what in ("torch", "cuda-oom"):
            return DEVICE_OOM
        if what == "oom-killer":
            return HOST_OOM
        if what == "context":
            return OTHER_PROCESSES
        if what in ("xla-host", "bad-alloc", "memory-error", "thread"):
            return HOST_OOM
        if what == "xla":
            return XLA_OOM
        if what in ("oom-tensor", "allocator"):
            host = is_host_allocator(allocator) or device.upper().startswith("CPU")
            if host:
                return HOST_OOM
            if allocator or device or "gpu-hint" in present:
                return DEVICE_OOM
            return PROBABLE_OOM  # an old message that names no device
        if what == "masked":
            return MASKED_OOM
        if what == "library-alloc":
            return PROBABLE_OOM
        if what in ("handle", "probable"):
            verdict = library_memory(findings)
            if verdict is True or (verdict is None and what == "probable" and not present & {"handle", "library"}):
                return PROBABLE_OOM
            continue  # a library or driver problem: see library_problem
        if what == "resource-exhausted":
            line = next(f.line for f in findings if f.what == what)
            if "GPU" in line or "gpu-hint" in present:
                return DEVICE_OOM
            return HOST_OOM if "CPU" in line else PROBABLE_OOM
    if oom is not None:
        return _OOM_EVENT_KINDS.get(oom.kind.lower(), PROBABLE_OOM)
    return None


def library_memory(findings: list[Finding]) -> bool | None:
    """Whether a cuDNN/cuBLAS failure was for lack of memory: True with memory
    evidence, False with evidence against it (a version mismatch named, or
    plenty of GPU memory free), None when the log says neither."""
    present = {f.what for f in findings}
    free = next((f.details for f in reversed(findings) if f.what == "cudnn-memory"), None)
    share = free["free"] / free["total"] if free and free["total"] else None
    if "library" in present or (share is not None and share >= _CUDNN_PLENTY):
        return False
    if present & _MEMORY_SIGNS or (share is not None and share <= _CUDNN_LOW):
        return True
    return None


def library_problem(findings: list[Finding]) -> bool:
    """A cuDNN/cuBLAS/driver failure that is not memory (memory_kind said None)."""
    return any(f.what in ("handle", "library") for f in findings)


def merged_details(findings: list[Finding], oom: Oom | None) -> dict[str, Any]:
    """requested_bytes, shape, dtype, device, allocator: the trainer's own
    event first, then the most specific log line, then the rest."""
    details: dict[str, Any] = {}
    if oom is not None:
        for name in _DETAIL_KEYS:
            value = getattr(oom, name, None)
            if value is not None:
                details[name] = value
    for what in _ORDER:
        for f in findings:
            if f.what == what:
                for k, v in f.details.items():
                    if k in _DETAIL_KEYS:
                        details.setdefault(k, v)
    if isinstance(details.get("device"), str) and "device:" in details["device"]:
        details["device"] = details["device"].rsplit("device:", 1)[-1]
    return details


def other_holders(baseline: Snapshot | None, device: str | None) -> tuple[int, int, list[dict[str, Any]]] | None:
    """(bytes others held, total, holders) on the OOM's GPU at launch, when it
    is a large share; None otherwise."""
    if baseline is None or not baseline.gpus:
        return None
    index = _gpu_index(device)
    gpus = [g for g in baseline.gpus if index is None or g.index == index] or list(baseline.gpus)
    best: tuple[int, int, list[dict[str, Any]]] | None = None
    for gpu in gpus:
        others = [p for p in gpu.processes if not p.is_run]
        listed = sum(p.used_bytes or 0 for p in others)
        # Before launch everything in use belongs to someone else; NVML may
        # not list the processes (containers), so the device counter decides.
        held = max(listed, gpu.used_bytes, gpu.other_bytes or 0)
        if gpu.total_bytes <= 0 or held < OTHERS_SHARE * gpu.total_bytes:
            continue
        holders = [{"pid": p.pid, "name": p.name, "user": p.user, "bytes": p.used_bytes}
                   for p in sorted(others, key=lambda p: -(p.used_bytes or 0))]
        if best is None or held > best[0]:
            best = (held, gpu.total_bytes, holders)
    return best


def _gpu_index(device: str | None) -> int | None:
    if not device or not device.upper().startswith("GPU:"):
        return None
    tail = device.split(":", 1)[1]
    return int(tail) if tail.isdigit() else None


def rss_share(peak_rss: int | None, host_total: int | None, limit_mb: int | None) -> tuple[int, int, str] | None:
    """(peak, the ceiling it is compared with, words for the ceiling) when the
    trainer's memory was high: at least 80% of --host-memory-limit, or 60% of
    the host's RAM (the OOM killer picks the largest process; the rest of the
    machine holds the other 40%)."""
    if peak_rss is None or peak_rss <= 0:
        return None
    if limit_mb is not None and peak_rss >= 0.8 * limit_mb * 2**20:
        return peak_rss, limit_mb * 2**20, "the --host-memory-limit"
    if host_total and peak_rss >= 0.6 * host_total:
        return peak_rss, host_total, "host RAM"
    return None
