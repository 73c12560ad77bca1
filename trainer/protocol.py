"""The event protocol: what the trainer writes to RUN/events.jsonl.

One JSON object per line, each with `v` (protocol version), `type` and `t`
(unix time). Epochs count from 1 (the first epoch is `epoch: 1`), as people
say them; steps count from 1 within an epoch. A loss that is NaN or infinite
is written as null: the step still counts, and the screen shows "nan".
Both processes import this module, so it imports nothing heavy.
`decode` never raises: a line that is not a valid event comes back as `Garbage`
so a reader can count it and go on.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from .runfiles import CONFIG_FILE, EVENTS_FILE, LOG_FILE  # noqa: F401  (re-exported: the trainer's own files)

PROTOCOL_VERSION = 1


class ExitCode(IntEnum):
    """How the trainer process ends; memtui reads these as outcomes."""

    FINISHED = 0
    BAD_INPUT = 2
    OOM = 3
    ERROR = 4
    STOPPED = 130


RUN_END_STATUSES = ("finished", "stopped", "oom", "error")


@dataclass(frozen=True)
class Event:
    """Any event; `raw` keeps every field, known or not."""

    type: str
    t: float
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class RunStart(Event):
    config: dict[str, Any]
    params: int
    devices: list[dict[str, Any]]
    tf_version: str
    keras_version: str
    memory_growth: bool
    dataset: dict[str, Any]


@dataclass(frozen=True)
class Step(Event):
    epoch: int
    step: int
    loss: float | None
    batch_size: int
    step_seconds: float
    examples_per_second: float
    memory: dict[str, Any]
    accuracy: float | None = None
    steps_in_epoch: int | None = None


@dataclass(frozen=True)
class Epoch(Event):
    epoch: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class Oom(Event):
    kind: str
    message: str
    shape: str | None = None
    dtype: str | None = None
    device: str | None = None
    allocator: str | None = None
    requested_bytes: int | None = None


@dataclass(frozen=True)
class Error(Event):
    exception: str
    message: str
    traceback: str = ""


@dataclass(frozen=True)
class RunEnd(Event):
    status: str
    steps: int
    peak_memory: int | None = None


@dataclass(frozen=True)
class Garbage:
    """A line that is not a valid event (partial, corrupt, wrong version)."""

    line: str
    reason: str


_TYPES: dict[str, type[Event]] = {
    "run_start": RunStart,
    "step": Step,
    "epoch": Epoch,
    "oom": Oom,
    "error": Error,
    "run_end": RunEnd,
}

# Fields each type must carry, with the Python types they may have.
_NUM = (int, float)
_REQUIRED: dict[str, dict[str, tuple[type, ...]]] = {
    "run_start": {"config": (dict,), "params": (int,), "devices": (list,), "tf_version": (str,),
                  "keras_version": (str,), "memory_growth": (bool,), "dataset": (dict,)},
    "step": {"epoch": (int,), "step": (int,), "loss": (*_NUM, type(None)), "batch_size": (int,),
             "step_seconds": _NUM, "examples_per_second": _NUM, "memory": (dict,)},
    "epoch": {"epoch": (int,), "metrics": (dict,)},
    "oom": {"kind": (str,), "message": (str,)},
    "error": {"exception": (str,), "message": (str,)},
    "run_end": {"status": (str,), "steps": (int,)},
}


def encode(type_: str, **fields_: Any) -> str:
    """One protocol line (without the newline). Non-finite floats become null
    so the line stays valid JSON for every reader."""
    payload = {"v": PROTOCOL_VERSION, "type": type_, "t": round(time.time(), 6)}
    payload.update({k: _finite(v) for k, v in fields_.items()})
    return json.dumps(payload, separators=(",", ":"), default=str)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def decode(line: str | bytes) -> Event | Garbage:
    """Parse one line into a typed event; never raises."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
    except UnicodeDecodeError:
        return Garbage(repr(line)[:200], "not UTF-8")
    text = text.strip()
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return Garbage(text[:200], "not JSON")
    if not isinstance(obj, dict):
        return Garbage(text[:200], "not a JSON object")
    if obj.get("v") != PROTOCOL_VERSION:
        return Garbage(text[:200], f"protocol version {obj.get('v')!r}, expected {PROTOCOL_VERSION}")
    kind = obj.get("type")
    t = obj.get("t")
    if not isinstance(kind, str) or kind not in _TYPES:
        return Garbage(text[:200], f"unknown event type {kind!r}")
    if isinstance(t, bool) or not isinstance(t, _NUM):
        return Garbage(text[:200], "missing time")
    for name, types in _REQUIRED[kind].items():
        value = obj.get(name)
        if isinstance(value, bool) and bool not in types:
            return Garbage(text[:200], f"{kind}: {name} has the wrong type")
        if not isinstance(value, types):
            return Garbage(text[:200], f"{kind}: {name} missing or of the wrong type")
    cls = _TYPES[kind]
    known = set(cls.__dataclass_fields__) - {"type", "t", "raw"}
    kwargs = {k: obj[k] for k in known if k in obj}
    try:
        return cls(type=kind, t=float(t), raw=obj, **kwargs)
    except TypeError as exc:  # a required optional-less field was null
        return Garbage(text[:200], f"{kind}: {exc}")


def decode_lines(lines: Iterable[bytes | str]) -> tuple[list[Event], int]:
    """Decode many lines: the events in order and how many lines were garbage.
    Blank lines are neither."""
    events: list[Event] = []
    garbage = 0
    for line in lines:
        if not line.strip():
            continue
        item = decode(line)
        if isinstance(item, Garbage):
            garbage += 1
        else:
            events.append(item)
    return events, garbage
