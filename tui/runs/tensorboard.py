"""A run folder's steps as a TensorBoard event file, written without TensorFlow.

`RUN/tensorboard/events.out.tfevents.<time>.memtui` holds one scalar Event per
step (`train/loss`, `train/accuracy`, `train/examples_per_second`,
`train/step_seconds`, `memory/peak_bytes`, `memory/current_bytes`) and one per
epoch end (`validation/<metric>` for Keras' `val_` metrics, `epoch/<metric>`
for the others), so `tensorboard --logdir RUNS_ROOT` shows every attempt as a
run of its own. The Event protobuf is encoded by hand: only the fields used
here (wall_time=1 double, step=2 int64, file_version=3 string, summary=5
Summary{value=1 Value{tag=1 string, simple_value=2 float}}).
"""

from __future__ import annotations

import math
import os
import struct
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tui.runs.steprows import EpochRow, StepRow, read_rows
from tui.runs.tfrecord import record

if TYPE_CHECKING:
    from tui.runs.folder import RunDir

FOLDER = "tensorboard"
SUFFIX = ".memtui"
PREFIX = "events.out.tfevents."
FILE_VERSION = "brain.Event:2"


# --- protobuf, by hand ---------------------------------------------------------

def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # int64 is written as its two's complement, ten bytes
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _value(tag: str, simple_value: float) -> bytes:
    return _field(1, tag.encode("utf-8")) + _varint(2 << 3 | 5) + struct.pack("<f", simple_value)


def event(wall_time: float, step: int = 0, *, file_version: str | None = None,
          scalars: Sequence[tuple[str, float]] = ()) -> bytes:
    """One serialised Event: the file-version header, or a Summary of scalars."""
    out = _varint(1 << 3 | 1) + struct.pack("<d", wall_time)
    if step:
        out += _varint(2 << 3 | 0) + _varint(step)
    if file_version is not None:
        out += _field(3, file_version.encode("utf-8"))
    if scalars:
        out += _field(5, b"".join(_field(1, _value(tag, value)) for tag, value in scalars))
    return out


# --- what goes in ----------------------------------------------------------------

def _finite(value: float | int | None) -> bool:
    return value is not None and math.isfinite(value)


def step_scalars(row: StepRow) -> list[tuple[str, float]]:
    scalars = [(f"train/{name}", value) for name, value in row.metrics.items() if _finite(value)]
    scalars.append(("train/examples_per_second", row.examples_per_second))
    scalars.append(("train/step_seconds", row.step_seconds))
    if row.memory_peak_bytes is not None:
        scalars.append(("memory/peak_bytes", float(row.memory_peak_bytes)))
    if row.memory_current_bytes is not None:
        scalars.append(("memory/current_bytes", float(row.memory_current_bytes)))
    return [(tag, float(v)) for tag, v in scalars if _finite(v)]  # type: ignore[arg-type]


def epoch_scalars(row: EpochRow) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for name, value in row.metrics.items():
        if not math.isfinite(value):
            continue
        tag = f"validation/{name[4:]}" if name.startswith("val_") else f"epoch/{name}"
        out.append((tag, value))
    return out


def serialised_events(steps: Sequence[StepRow], epochs: Sequence[EpochRow], wall_time: float) -> Iterator[bytes]:
    """The header event, then every step and epoch in time order."""
    yield event(wall_time, file_version=FILE_VERSION)
    items: list[tuple[float, int, list[tuple[str, float]]]] = [
        (s.time, s.global_step, step_scalars(s)) for s in steps
    ]
    items += [(e.time, e.global_step, epoch_scalars(e)) for e in epochs]
    for t, step, scalars in sorted(items, key=lambda item: item[0]):
        if scalars:
            yield event(t, step, scalars=scalars)


def write_event_file(folder: Path, events: Iterable[bytes], wall_time: float) -> Path:
    """Write the records to a temporary name, then rename: TensorBoard never
    reads half a file. Older memtui event files in `folder` are removed."""
    folder.mkdir(mode=0o700, exist_ok=True)
    final = folder / f"{PREFIX}{int(wall_time)}{SUFFIX}"
    tmp = folder / ".export.tmp"
    with open(tmp, "wb") as fh:
        for data in events:
            fh.write(record(data))
    os.replace(tmp, final)
    for old in folder.glob(f"{PREFIX}*{SUFFIX}"):
        if old != final:
            old.unlink(missing_ok=True)
    return final


def export_run(run: RunDir) -> Path:
    """(Re)write `RUN/tensorboard/`'s event file from `RUN/events.jsonl`; its path."""
    events, _garbage = run.events()
    steps, epochs = read_rows(events)
    wall_time = events[0].t if events else time.time()
    return write_event_file(run.path / FOLDER, serialised_events(steps, epochs, wall_time), wall_time)


def export_quietly(run: RunDir) -> Path | None:
    """export_run for the end of an attempt: a failure is one line on stderr, never raised."""
    try:
        return export_run(run)
    except Exception as exc:  # an export must never cost the attempt its ending
        try:
            print(f"memtui: TensorBoard export of {run.id} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        except (OSError, ValueError):
            pass
        return None


def export_in_background(run: RunDir) -> threading.Thread | None:
    """export_quietly in a thread of its own, so a long run's export never delays
    the verdict on screen. Not a daemon: a process that is exiting finishes it.
    A convenience that never raises: with no thread to be had, one line on stderr."""
    thread = threading.Thread(target=export_quietly, args=(run,), name=f"tensorboard-export-{run.id}")
    try:
        thread.start()
    except RuntimeError as exc:
        print(f"memtui: TensorBoard export of {run.id} not started: {exc}", file=sys.stderr)
        return None
    return thread
