"""The catalogue of TensorFlow memory messages, as compiled patterns.

Sources: TensorFlow's own strings (checked against the installed
libtensorflow_framework.so) and real runs on this project's machine, as listed
in the team's TF_MEMORY.md. `scan` reads a log and returns what it found; it
decides nothing. The order of a `Finding` list is the order of the log.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

# Signals (what each one means for a memory problem), by the name people read.
SIGNAL_NAMES = {1: "SIGHUP", 2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM"}

DTYPE_BYTES = {
    "float": 4, "float32": 4, "half": 2, "float16": 2, "bfloat16": 2, "double": 8, "float64": 8,
    "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "int64": 8, "uint64": 8,
    "bool": 1, "complex64": 8, "complex128": 16,
}

# --- fatal: device and host allocator ---------------------------------------

# "OOM when allocating tensor with shape[2048,256,256,32] and type float on
#  /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc"
OOM_TENSOR = re.compile(
    r"OOM when allocating tensor (?:with|of) shape\s*\[(?P<shape>[^\]]{0,200})\]\s*and type (?P<dtype>\w+)"
    r"(?: on (?P<device>[^\s,;]+))?(?: by allocator (?P<allocator>[\w.-]+))?"
)
# The fatal variant has "(rounded to N)"; the freed_by_count variant is a
# warning TensorFlow itself calls "not a failure".
ALLOCATOR_RAN_OUT = re.compile(
    r"Allocator \((?P<allocator>[\w.-]+)\) ran out of memory trying to allocate (?P<size>[\d.]+\s?[KMGT]?i?B)"
    r" \(rounded to (?P<bytes>\d+)\)"
)
FREED_BY_COUNT = re.compile(r"ran out of memory trying to allocate .{0,40}with freed_by_count=\d+")
RESOURCE_EXHAUSTED = re.compile(r"ResourceExhaustedError|RESOURCE_EXHAUSTED")

# --- fatal: XLA and the async allocator -------------------------------------

XLA_DEVICE = re.compile(r"Out of memory while trying to allocate (?P<bytes>\d+) bytes")
XLA_HOST = re.compile(r"Out of host memory while trying to allocate (?P<bytes>\d+) bytes")
ASYNC_FAILED = re.compile(r"cuMemAllocAsync failed to allocate (?P<bytes>\d+) bytes")
ASYNC_ALLOCATOR = re.compile(r"gpu_async_\d+")

# --- masked and probable -----------------------------------------------------

MASKED = re.compile(r"Dst tensor is not initialized")
PROBABLE = re.compile(
    r"Could not create cudnn handle|CUDNN_STATUS_ALLOC_FAILED|CUDNN_STATUS_INTERNAL_ERROR"
    r"|Blas GEMM launch failed|CUBLAS_STATUS_ALLOC_FAILED|failed to create cublas handle"
)

# --- host --------------------------------------------------------------------

BAD_ALLOC = re.compile(r"std::bad_alloc")
# tf.data or Eigen failing to start a thread under an address-space limit
# (seen here at 300 MiB of headroom): errno 11, then a CHECK abort.
THREAD_FAILED = re.compile(r"Thread \S+ creation via pthread_create\(\) failed")
PY_MEMORY_ERROR = re.compile(r"^(?:\w+\.)*_?\w*MemoryError\b")
HOST_ALLOCATORS = ("cpu", "mklcpu", "cpu_bfc")

# --- not fatal on their own --------------------------------------------------

STARTUP_RETRY = re.compile(r"failed to allocate .{0,40}from device: CUDA_ERROR_OUT_OF_MEMORY")
TEN_PERCENT = re.compile(r"Allocation of \d+ exceeds 10% of free system memory")
GC_WARNING = re.compile(r"Garbage collection: deallocate free memory regions")

# --- endings that are not memory --------------------------------------------

# The last line of a Python traceback: "pkg.module.SomeError: message".
EXCEPTION_LINE = re.compile(
    r"^(?P<name>(?:[A-Za-z_]\w*\.){0,8}[A-Za-z_]\w*(?:Error|Exception|Interrupt|Exit|Warning|Failure))"
    r"(?::\s?(?P<message>.*))?$"
)
TRACEBACK_START = re.compile(r"^Traceback \(most recent call last\):")
CHECK_FAILED = re.compile(r"Check failed: .*")
FATAL_PYTHON = re.compile(r"Fatal Python error: .*")
KILLED_WORD = re.compile(r"^(?:.*: )?Killed$")

@dataclass(frozen=True)
class Finding:
    """One telling line of the log and what it means."""

    what: str  # a key of `WEIGHT`
    line: str
    details: dict[str, Any] = field(default_factory=dict)


# How telling each finding is, for ordering evidence (higher first).
WEIGHT = {
    "oom-tensor": 100, "xla": 95, "xla-host": 95, "async": 95, "allocator": 90, "bad-alloc": 90,
    "memory-error": 90, "masked": 85, "probable": 80, "thread": 75, "resource-exhausted": 70,
    "exception": 60, "check": 55, "fatal-python": 50, "killed-word": 45,
    "freed-by-count": 10, "startup-retry": 10, "ten-percent": 10, "gc": 10,
}
NON_FATAL = frozenset({"freed-by-count", "startup-retry", "ten-percent", "gc"})


def scan(text: str) -> list[Finding]:
    """Every memory message and exception line in `text`, in log order."""
    found: list[Finding] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or len(line) > 20_000:
            continue
        finding = _classify(line)
        if finding is not None:
            found.append(finding)
    return found


def _classify(line: str) -> Finding | None:
    short = line[:600]
    if FREED_BY_COUNT.search(line):
        return Finding("freed-by-count", short)
    if STARTUP_RETRY.search(line):
        return Finding("startup-retry", short)
    if TEN_PERCENT.search(line):
        return Finding("ten-percent", short)
    if GC_WARNING.search(line):
        return Finding("gc", short)
    if m := OOM_TENSOR.search(line):
        return Finding("oom-tensor", short, tensor_details(m))
    if m := ASYNC_FAILED.search(line):
        return Finding("async", short, {"requested_bytes": int(m["bytes"]), "allocator": "gpu_async"})
    if m := XLA_HOST.search(line):
        return Finding("xla-host", short, {"requested_bytes": int(m["bytes"]), "device": "host"})
    if m := XLA_DEVICE.search(line):
        return Finding("xla", short, {"requested_bytes": int(m["bytes"])})
    if m := ALLOCATOR_RAN_OUT.search(line):
        return Finding("allocator", short, {"allocator": m["allocator"], "requested_bytes": int(m["bytes"])})
    if BAD_ALLOC.search(line):
        return Finding("bad-alloc", short)
    if PY_MEMORY_ERROR.search(line):
        return Finding("memory-error", short, {"exception": "MemoryError"})
    if MASKED.search(line):
        return Finding("masked", short)
    if PROBABLE.search(line):
        return Finding("probable", short)
    if THREAD_FAILED.search(line):
        return Finding("thread", short)
    if m := EXCEPTION_LINE.match(line):
        name = m["name"].rsplit(".", 1)[-1]
        return Finding("exception", short, {"exception": name, "message": (m["message"] or "").strip()[:500]})
    if RESOURCE_EXHAUSTED.search(line):
        return Finding("resource-exhausted", short)
    if m := CHECK_FAILED.search(line):
        return Finding("check", short, {"message": m[0][:500]})
    if m := FATAL_PYTHON.search(line):
        return Finding("fatal-python", short, {"message": m[0][:500]})
    if KILLED_WORD.match(line):
        return Finding("killed-word", short)
    return None


def tensor_details(m: re.Match[str]) -> dict[str, Any]:
    """shape, dtype, device, allocator and the bytes they imply."""
    dims_text = m["shape"].replace(" ", "")
    details: dict[str, Any] = {"shape": f"[{dims_text}]", "dtype": m["dtype"]}
    if m["device"]:
        details["device"] = short_device(m["device"])
    if m["allocator"]:
        details["allocator"] = m["allocator"]
    dims = parse_dims(dims_text)
    if dims is not None and m["dtype"] in DTYPE_BYTES:
        details["requested_bytes"] = math.prod(dims) * DTYPE_BYTES[m["dtype"]]
    return details


def parse_dims(text: str) -> list[int] | None:
    parts = [p for p in text.strip("[]").split(",") if p.strip()]
    if not parts or len(parts) > 16 or not all(p.strip().isdigit() and len(p.strip()) < 12 for p in parts):
        return None
    return [int(p) for p in parts]


def short_device(device: str) -> str:
    """/job:localhost/replica:0/task:0/device:GPU:0 -> GPU:0."""
    return device.rsplit("device:", 1)[-1] if "device:" in device else device


def is_host_allocator(allocator: str | None) -> bool:
    return allocator is not None and allocator.lower() in HOST_ALLOCATORS
