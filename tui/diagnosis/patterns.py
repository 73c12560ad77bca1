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
# Old executors (TF 0.x/1.x) cut it short: "... with shape[100,4096,32]" or
# even "... with shape" and nothing after it.
OOM_TENSOR = re.compile(
    r"OOM when allocating tensor (?:with|of) shape(?:\s*\[(?P<shape>[^\]]{0,200})\])?"
    r"(?:\s*and type (?P<dtype>\w+))?(?: on (?P<device>[^\s,;]+))?(?: by allocator (?P<allocator>[\w.-]+))?"
)
# The fatal variant has "(rounded to N)"; the freed_by_count variant is a
# warning TensorFlow itself calls "not a failure".
# Older TensorFlow wrote "... allocate 5.42GiB.  Current allocation summary
# follows." or "Ran out of memory trying to allocate 2.0KiB.  See logs ...".
ALLOCATOR_RAN_OUT = re.compile(
    r"(?:Allocator \((?P<allocator>[\w.-]+)\) ran|(?:^|\] )Ran) out of memory trying to allocate "
    r"(?P<size>[\d.]+\s?[KMGT]?i?B)(?: \(rounded to (?P<bytes>\d+)\))?"
)
# TF 1.x wrote the same warning without freed_by_count: "... allocate 2.26GiB.
# The caller indicates that this is not a failure, ...".
FREED_BY_COUNT = re.compile(r"ran out of memory trying to allocate .{0,40}(?:with freed_by_count=\d+"
                            r"|\. The caller indicates that this is not a failure)")
# The exception type alone is evidence (a custom op, or a message cut off
# after "Graph execution error:"); TF 1.x statuses say "Resource exhausted:".
RESOURCE_EXHAUSTED = re.compile(r"ResourceExhaustedError|RESOURCE_EXHAUSTED|Resource exhausted:")
# gRPC's RESOURCE_EXHAUSTED for a too-large message is not memory.
NOT_MEMORY_EXHAUSTED = re.compile(r"Received message larger than max|message (?:is )?too large", re.I)
# A GPU named anywhere in the log: where a bare ResourceExhaustedError ran.
GPU_HINT = re.compile(r"device:GPU:\d|/(?:gpu|GPU):\d|_device=\"[^\"]*(?:gpu|GPU):\d")

# --- fatal: XLA and the async allocator -------------------------------------

# (A terminal may wrap "Out" and "of memory" onto two lines.)
XLA_DEVICE = re.compile(r"(?:[Oo]ut )?of memory while trying to allocate (?P<bytes>\d+) bytes")
# PJRT (JAX, Keras 3 on JAX): "Failed to allocate request for 6.27GiB (6727663616B) on device ordinal 0".
XLA_REQUEST = re.compile(r"Failed to allocate request for (?P<size>[\d.]+\s?[KMGT]?i?B) \((?P<bytes>\d+)B\)")
# TPU: "Attempting to allocate 31.06M. That was not possible. There are 58.64M free."
TPU_NOT_POSSIBLE = re.compile(
    r"Attempting to (?:allocate|reserve) (?P<size>[\d.]+[KMGT]?)(?: at the bottom of memory)?\. "
    r"That was not possible\. There are (?P<free>[\d.]+[KMGT]?) free")
# XLA loading a compiled kernel with no device memory left for it.
CUBIN_OOM = re.compile(r"Failed to load in-memory CUBIN.{0,80}CUDA_ERROR_OUT_OF_MEMORY")
# XLA's CPU client (JAX on a CPU, e.g. under an address-space limit) says "Out of
# memory allocating N bytes." (jaxlib 0.10's libjax_common; its GPU client says
# "while trying to allocate"): host memory.
XLA_HOST = re.compile(r"Out of host memory while trying to allocate (?P<bytes>\d+) bytes"
                      r"|(?:[Oo]ut )?of memory allocating (?P<cpu_bytes>\d+) bytes")
ASYNC_FAILED = re.compile(r"cuMemAllocAsync failed to allocate (?P<bytes>\d+) bytes")
ASYNC_ALLOCATOR = re.compile(r"gpu_async_\d+")

# --- CUDA itself ---------------------------------------------------------------

# No memory left even for the CUDA context: another process holds the GPU.
CONTEXT_OOM = re.compile(
    r"cuDevicePrimaryCtxRetain: CUDA_ERROR_OUT_OF_MEMORY|^CUDA_ERROR_OUT_OF_MEMORY; total memory reported"
    r"|CUDA runtime implicit initialization on GPU:\d+ failed\. Status: out of memory"
    r"|cuInit results in CUDA_ERROR_OUT_OF_MEMORY|cuCtxCreate.{0,40}CUDA_ERROR_OUT_OF_MEMORY")
# Third-party CUDA code checking its own calls (Caffe, custom ops, extensions).
CUDA_STATUS_OOM = re.compile(
    r"cudaSuccess \((?:2 vs\. 0|0 vs\. 2)\)\s+(?:Cuda Error: )?out of memory|CUDA error: out of memory"
    r"|GPUassert: out of memory|cudaErrorMemoryAllocation|cudaMalloc(?: \w+)? failed: out of memory"
    r"|CUDA [Aa]ssert.{0,80}out of memory|cuda failed with error 2 out of memory", re.I)
# PyTorch (also Keras 3 on torch): "CUDA out of memory. Tried to allocate 1.53 GiB."
TORCH_OOM = re.compile(r"CUDA out of memory\. Tried to allocate (?P<size>[\d.]+ [KMGT]?i?B)")
TORCH_OOM_ERROR = re.compile(r"(?<!java\.lang\.)\bOutOfMemoryError\b")
TORCH_RESERVED = re.compile(r"(?P<size>[\d.]+ [KMGT]?i?B) is reserved by PyTorch but unallocated")
TORCH_TOTAL = re.compile(r"total capa(?:ci|c)ty of (?P<size>[\d.]+ [KMGT]?i?B)")

# --- masked and probable -----------------------------------------------------

MASKED = re.compile(r"Dst tensor is not initialized")
# cuDNN/cuBLAS asking for memory and not getting it: memory evidence itself.
LIBRARY_ALLOC = re.compile(r"CUDNN_STATUS_ALLOC_FAILED|CUBLAS_STATUS_ALLOC_FAILED")
# A handle that could not be made: memory only with memory evidence beside it,
# otherwise a library or driver problem.
HANDLE_FAILED = re.compile(
    r"Could not create cudnn handle|CUDNN_STATUS_INTERNAL_ERROR|failed to create cublas handle"
    r"|CUBLAS_STATUS_NOT_INITIALIZED|CUDNN_STATUS_NOT_INITIALIZED", re.I)
# Kernels that could not start, no status given: usually no workspace memory.
PROBABLE = re.compile(r"Blas GEMM launch failed|Failed to get convolution algorithm")
# cuDNN's own account of the memory when the handle failed.
CUDNN_MEMORY = re.compile(r"Memory usage: (?P<free>\d+) bytes free, (?P<total>\d+) bytes total")
# A named version mismatch or a driver too old: a library/driver problem.
LIBRARY_MISMATCH = re.compile(
    r"Loaded runtime CuDNN library: .{0,60}but source was compiled with|CUDNN_STATUS_VERSION_MISMATCH"
    r"|cuDNN compiled \(\d+\) and runtime \(\d+\) versions mismatch"
    r"|CUDA driver version is insufficient for CUDA runtime version|Driver/library version mismatch"
    r"|DNN library (?:is not found|initialization failed)|cudnn library (?:version )?mismatch", re.I)
# "freeMemory: 15.60GiB" / "Free memory: 11.11GiB": what the GPU had at start.
GPU_FREE = re.compile(r"(?:freeMemory|Free memory): (?P<size>[\d.]+\s?[KMGT]?i?B)", re.I)

# --- host --------------------------------------------------------------------

# The kernel's OOM killer (dmesg, journal): "Out of memory: Killed process 25315
# (python3) total-vm:53312244kB, anon-rss:31451456kB", "oom-kill:constraint=",
# "python3 invoked oom-killer", "Memory cgroup out of memory".
OOM_KILLER = re.compile(
    r"Out of memory: Kill(?:ed)? process \d+|oom-kill:constraint=|invoked oom-killer"
    r"|Memory cgroup out of memory|oom_kill_process")
ANON_RSS = re.compile(r"anon-rss:(?P<kb>\d+)kB")
# tf.data filling a shuffle buffer in host memory.
SHUFFLE_FILL = re.compile(r"Filling up shuffle buffer|Shuffle buffer filled")

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
# A shell's word for its SIGKILLed child: "Killed", bash's "line 5:  1921 Killed
# cmd", dash's "./train.sh: 60: 11880 killed   cmd".
KILLED_WORD = re.compile(r"^(?:.*: )?Killed$|^(?:.*:\s+)?\d+\s+[Kk]illed\s+\S")

# --- which library wrote the log ---------------------------------------------

# (xla/python/ is XLA's Python client, which only JAX loads.)
# jax 0.10 raises jax.errors.JaxRuntimeError (XlaRuntimeError before).
JAX_MARKS = re.compile(r"\bjaxlib\b|xla/python/|\bjax[./]_src\b|/jax/|XlaRuntimeError|JaxRuntimeError|XLA_PYTHON_CLIENT"
                       r"|\bimport jax\b|\bjax\.errors\b")
TORCH_MARKS = re.compile(r"\btorch\.|/torch/|PyTorch|PYTORCH_CUDA_ALLOC_CONF|THCudaCheck")
TF_MARKS = re.compile(r"tensorflow|ResourceExhaustedError|InvalidArgumentError|bfc_allocator|"
                      r"OOM when allocating tensor|\btf\.keras\b")

@dataclass(frozen=True)
class Finding:
    """One telling line of the log and what it means."""

    what: str  # a key of `WEIGHT`
    line: str
    details: dict[str, Any] = field(default_factory=dict)


# How telling each finding is, for ordering evidence (higher first).
WEIGHT = {
    "oom-tensor": 100, "xla": 95, "xla-host": 95, "async": 95, "torch": 95, "oom-killer": 95, "context": 92,
    "allocator": 90, "bad-alloc": 90, "cuda-oom": 90,
    "memory-error": 90, "masked": 85, "library-alloc": 82, "probable": 80, "handle": 78, "library": 77,
    "thread": 75, "resource-exhausted": 70,
    "exception": 60, "check": 55, "fatal-python": 50, "killed-word": 45,
    "freed-by-count": 10, "startup-retry": 10, "ten-percent": 10, "gc": 10, "shuffle": 10, "gpu-free": 10,
    "cudnn-memory": 10, "gpu-hint": 0,
}
NON_FATAL = frozenset({"freed-by-count", "startup-retry", "ten-percent", "gc", "shuffle", "gpu-free", "cudnn-memory",
                       "gpu-hint"})
# Facts about the setting, never shown as evidence lines.
HINTS = frozenset({"gpu-hint", "gpu-free"})


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
    if m := CUDNN_MEMORY.search(line):
        return Finding("cudnn-memory", short, {"free": int(m["free"]), "total": int(m["total"])})
    if m := GPU_FREE.search(line):
        return Finding("gpu-free", short, {"free": size_bytes(m["size"])})
    if SHUFFLE_FILL.search(line):
        return Finding("shuffle", short)
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
    if OOM_KILLER.search(line):
        rss = ANON_RSS.search(line)
        return Finding("oom-killer", short, {"device": "host", **({"peak_rss": int(rss["kb"]) * 1024} if rss else {})})
    if m := TORCH_OOM.search(line):
        details: dict[str, Any] = {"requested_bytes": size_bytes(m["size"])}
        if r := TORCH_RESERVED.search(line):
            details["reserved_unallocated"] = size_bytes(r["size"])
        if t := TORCH_TOTAL.search(line):
            details["gpu_total"] = size_bytes(t["size"])
        return Finding("torch", short, details)
    if TORCH_OOM_ERROR.search(line):
        return Finding("torch", short)
    if CONTEXT_OOM.search(line):
        return Finding("context", short)
    if CUBIN_OOM.search(line):
        return Finding("xla", short, {"what": "cubin"})
    if m := ASYNC_FAILED.search(line):
        return Finding("async", short, {"requested_bytes": int(m["bytes"]), "allocator": "gpu_async"})
    if m := XLA_HOST.search(line):
        return Finding("xla-host", short, {"requested_bytes": int(m["bytes"] or m["cpu_bytes"]), "device": "host"})
    if m := XLA_DEVICE.search(line):
        return Finding("xla", short, {"requested_bytes": int(m["bytes"])})
    if m := XLA_REQUEST.search(line):
        return Finding("xla", short, {"requested_bytes": int(m["bytes"])})
    if m := TPU_NOT_POSSIBLE.search(line):
        return Finding("xla", short, {"requested_bytes": size_bytes(m["size"]), "device": "TPU"})
    if m := ALLOCATOR_RAN_OUT.search(line):
        size = int(m["bytes"]) if m["bytes"] else size_bytes(m["size"])
        details = {"allocator": m["allocator"]} if m["allocator"] else {}
        return Finding("allocator", short, {**details, "requested_bytes": size})
    if CUDA_STATUS_OOM.search(line):
        return Finding("cuda-oom", short)
    if BAD_ALLOC.search(line):
        return Finding("bad-alloc", short)
    if PY_MEMORY_ERROR.search(line):
        return Finding("memory-error", short, {"exception": "MemoryError"})
    if MASKED.search(line):
        return Finding("masked", short)
    if LIBRARY_ALLOC.search(line):
        return Finding("library-alloc", short)
    if LIBRARY_MISMATCH.search(line):
        return Finding("library", short)
    if HANDLE_FAILED.search(line):
        return Finding("handle", short)
    if PROBABLE.search(line):
        return Finding("probable", short)
    if THREAD_FAILED.search(line):
        return Finding("thread", short)
    if (m := EXCEPTION_LINE.match(line)) and not (
            m["name"].endswith("ResourceExhaustedError") and not NOT_MEMORY_EXHAUSTED.search(line)):
        name = m["name"].rsplit(".", 1)[-1]
        return Finding("exception", short, {"exception": name, "message": (m["message"] or "").strip()[:500]})
    if RESOURCE_EXHAUSTED.search(line) and not NOT_MEMORY_EXHAUSTED.search(line):
        return Finding("resource-exhausted", short)
    if m := CHECK_FAILED.search(line):
        return Finding("check", short, {"message": m[0][:500]})
    if m := FATAL_PYTHON.search(line):
        return Finding("fatal-python", short, {"message": m[0][:500]})
    if KILLED_WORD.match(line):
        return Finding("killed-word", short)
    if GPU_HINT.search(line):
        return Finding("gpu-hint", short)
    return None


def tensor_details(m: re.Match[str]) -> dict[str, Any]:
    """shape, dtype, device, allocator and the bytes they imply."""
    details: dict[str, Any] = {}
    dims_text = (m["shape"] or "").replace(" ", "")
    if m["shape"] is not None:
        details["shape"] = f"[{dims_text}]"
    if m["dtype"]:
        details["dtype"] = m["dtype"]
    if m["device"]:
        details["device"] = short_device(m["device"])
    if m["allocator"]:
        details["allocator"] = m["allocator"]
    dims = parse_dims(dims_text)
    if dims is not None and m["dtype"] in DTYPE_BYTES:
        details["requested_bytes"] = math.prod(dims) * DTYPE_BYTES[m["dtype"]]
    return details


_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def size_bytes(text: str) -> int:
    """'5.42GiB', '1.53 GiB', '31.06M', '2.0KiB' -> bytes (binary units, as TF, XLA and PyTorch print them)."""
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)i?B?\s*", text)
    if not m:
        return 0
    return int(float(m[1]) * _UNITS[m[2]])


def backend_of(text: str) -> str | None:
    """Which library wrote the log: "jax", "torch", "tensorflow" or None."""
    if JAX_MARKS.search(text):
        return "jax"
    if TORCH_MARKS.search(text):
        return "torch"
    if TF_MARKS.search(text):
        return "tensorflow"
    return None


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
