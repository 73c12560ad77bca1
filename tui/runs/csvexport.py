"""One attempt's steps as CSV rows, for a spreadsheet or pandas (`memtui runs --csv RUN`)."""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING, TextIO

from tui.runs.steprows import StepRow, read_rows

if TYPE_CHECKING:
    from tui.runs.folder import RunDir

FIRST = ("run_id", "attempt", "epoch", "step", "global_step", "batch_size")
LAST = ("step_seconds", "examples_per_second", "memory_peak_bytes", "time")


def metric_names(rows: list[StepRow]) -> list[str]:
    """loss and accuracy, then every other metric any step carried, in first-seen order."""
    names: dict[str, None] = {"loss": None, "accuracy": None}
    for row in rows:
        names.update(dict.fromkeys(row.metrics))
    return list(names)


def _cell(value: float | int | None) -> str | float | int:
    return "" if value is None else value


def write_csv(run: RunDir, out: TextIO) -> int:
    """Write the header and one row per step to `out`; the number of rows.
    `time` is unix seconds; an unknown value (a NaN loss, no memory reading) is empty."""
    events, _garbage = run.events()
    steps, _epochs = read_rows(events)
    attempt = run.meta().get("attempt")
    names = metric_names(steps)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*FIRST, *names, *LAST])
    for row in steps:
        writer.writerow([
            run.id, _cell(attempt if isinstance(attempt, int) else None), row.epoch, row.step, row.global_step,
            row.batch_size, *(_cell(row.metrics.get(name)) for name in names),
            row.step_seconds, row.examples_per_second, _cell(row.memory_peak_bytes), row.time,
        ])
    return len(steps)
