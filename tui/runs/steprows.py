"""One attempt's events as rows: a row per step and a row per epoch end.

The shared reading behind the exports (`memtui runs --csv`, the TensorBoard
event file): metrics by name, timing, and the memory peak of each step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from trainer.protocol import Epoch, Event, Step
from tui.runs.facts import peak_of

# Step fields that are not metrics: everything else numeric in a step event is one.
_NOT_METRICS = frozenset({
    "v", "type", "t", "epoch", "step", "global_step", "steps_in_epoch", "loss", "accuracy", "batch_size",
    "step_seconds", "examples_per_second", "memory",
})


@dataclass(frozen=True)
class StepRow:
    time: float
    epoch: int
    step: int
    global_step: int
    batch_size: int
    metrics: dict[str, float | None]  # loss and accuracy first, then any other the trainer sent
    step_seconds: float
    examples_per_second: float
    memory_peak_bytes: int | None
    memory_current_bytes: int | None


@dataclass(frozen=True)
class EpochRow:
    time: float
    epoch: int
    global_step: int  # the last step of this epoch
    metrics: dict[str, float]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def current_of(memory: dict[str, Any]) -> int | None:
    """The largest current reading in a step's memory dict (the trainer's RSS on a CPU-only host)."""
    values: list[int] = []
    for key, value in memory.items():
        if isinstance(value, dict):
            now = value.get("current")
            if isinstance(now, int) and not isinstance(now, bool):
                values.append(now)
        elif key in ("cpu_rss", "current") and isinstance(value, int) and not isinstance(value, bool):
            values.append(value)
    return max(values) if values else None


def step_row(event: Step, index: int) -> StepRow:
    """`index` (1-based position among the attempt's steps) stands in for a missing global step."""
    raw = event.raw
    global_step = raw.get("global_step")
    metrics: dict[str, float | None] = {"loss": _number(event.loss), "accuracy": _number(event.accuracy)}
    for key, value in raw.items():
        if key not in _NOT_METRICS and _number(value) is not None:
            metrics[key] = _number(value)
    return StepRow(
        time=event.t, epoch=event.epoch, step=event.step,
        global_step=global_step if isinstance(global_step, int) and not isinstance(global_step, bool) else index,
        batch_size=event.batch_size, metrics=metrics, step_seconds=float(event.step_seconds),
        examples_per_second=float(event.examples_per_second),
        memory_peak_bytes=peak_of(event.memory), memory_current_bytes=current_of(event.memory),
    )


def read_rows(events: Iterable[Event]) -> tuple[list[StepRow], list[EpochRow]]:
    """The step rows and epoch rows of one attempt, in file order."""
    steps: list[StepRow] = []
    epochs: list[EpochRow] = []
    for event in events:
        if isinstance(event, Step):
            steps.append(step_row(event, len(steps) + 1))
        elif isinstance(event, Epoch):
            metrics = {k: float(v) for k, v in event.metrics.items() if _number(v) is not None}
            epochs.append(EpochRow(event.t, event.epoch, steps[-1].global_step if steps else 0, metrics))
    return steps, epochs
