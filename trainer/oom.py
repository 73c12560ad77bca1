"""Out-of-memory errors to `oom` event fields.

TensorFlow reports OOM in several shapes of text (BFC allocator, async
allocator, XLA, host allocator under an address-space limit), and JAX in
XLA's (`RESOURCE_EXHAUSTED: Out of memory allocating N bytes.` on its CPU
client, `... while trying to allocate N bytes` on a GPU), which names no
device: the caller passes the device the step ran on. Only the words are
stable, so this parses what is there and leaves out what is not.
"""

from __future__ import annotations

import math
import re
from typing import Any

_TENSOR = re.compile(
    r"OOM when allocating tensor with shape\s*\[(?P<shape>[^\]]*)\]\s*and type (?P<dtype>\w+)"
    r"(?: on (?P<device>\S+?))?(?: by allocator (?P<allocator>\S+))?(?=[\s.,;]|$)"
)
_ROUNDED = re.compile(r"ran out of memory trying to allocate \S+ \(rounded to (\d+)\)")
_BYTES = re.compile(
    r"(?:Out of (?:host )?memory (?:while trying to allocate|allocating)|cuMemAllocAsync failed to allocate) "
    r"(\d+) bytes"
)
_ALLOCATOR = re.compile(r"Allocator \((\S+)\) ran out of memory")
_DTYPE_BYTES = {
    "float": 4, "float32": 4, "half": 2, "float16": 2, "bfloat16": 2, "double": 8, "float64": 8,
    "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "int64": 8, "uint64": 8,
    "bool": 1,
}


# The words of an out-of-memory error whatever its exception's type (JAX's
# CPU client raises some as INTERNAL: "Error dispatching computation: Out of memory allocating N bytes").
OOM_WORDS = ("OOM when allocating", "RESOURCE_EXHAUSTED", "Out of memory allocating",
             "Out of memory while trying to allocate")


def is_oom_text(text: str) -> bool:
    return any(words in text for words in OOM_WORDS)


def parse_oom(text: str, exception: str = "ResourceExhaustedError", device: str | None = None) -> dict[str, Any]:
    """Fields for the `oom` event: kind (device/host), shape, dtype, device,
    allocator, requested_bytes where the text has them, and the message.
    `device` ("GPU:0", "CPU:0") is where the step ran, for texts that do not say."""
    fields: dict[str, Any] = {}
    match = _TENSOR.search(text)
    if match:
        fields["shape"] = "[" + match["shape"].replace(" ", "") + "]"
        fields["dtype"] = match["dtype"]
        if match["device"]:
            fields["device"] = match["device"]
        if match["allocator"]:
            fields["allocator"] = match["allocator"]
    if "allocator" not in fields and (alloc := _ALLOCATOR.search(text)):
        fields["allocator"] = alloc[1]
    if device and "device" not in fields and "allocator" not in fields and exception != "MemoryError":
        fields["device"] = device
    if rounded := _ROUNDED.search(text):
        fields["requested_bytes"] = int(rounded[1])
    elif plain := _BYTES.search(text):
        fields["requested_bytes"] = int(plain[1])
    elif "shape" in fields and fields["dtype"] in _DTYPE_BYTES:
        dims = [int(d) for d in fields["shape"].strip("[]").split(",") if d.strip().lstrip("-").isdigit()]
        if dims and all(d >= 0 for d in dims):
            fields["requested_bytes"] = math.prod(dims) * _DTYPE_BYTES[fields["dtype"]]
    fields["kind"] = _kind(fields, text, exception)
    fields["message"] = _headline(text)
    return fields


def _kind(fields: dict[str, Any], text: str, exception: str) -> str:
    where = f"{fields.get('device', '')} {fields.get('allocator', '')}".lower()
    if exception == "MemoryError" or "out of host memory" in text.lower():
        return "host"
    if "gpu" in where or "tpu" in where:
        return "device"
    if "cpu" in where:
        return "host"
    return "device" if "gpu" in text.lower() else "host"


def _headline(text: str) -> str:
    """The OOM line itself when present, else the first lines; capped."""
    for line in text.splitlines():
        if "OOM when allocating" in line or "Out of memory" in line or "out of memory" in line:
            return line.strip()[:1000]
    return " ".join(text.split())[:1000]
