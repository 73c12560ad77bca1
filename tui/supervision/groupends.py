"""The end of a group's attempt (`--workers N`): the failing worker's evidence, and its name in the verdict.

The reaper decided which worker failed (tui/supervision/group.py) and wrote it
to exit.json as `failed_rank`. The diagnosis then reads that worker's log and
events, not rank 0's: when rank 1 ran out of memory, rank 0's log holds only
the lost-peer error of a survivor. The verdict's summary says which worker
it was, what became of the others, and how fast they were stopped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from trainer.protocol import Event, decode_lines
from trainer.runfiles import read_json_object
from tui.common.verdict import NOT_OOM, Verdict
from tui.diagnosis import tail_text
from tui.runs.folder import RunDir

MAX_EVENTS = 400


def failing_worker(exit_info: dict[str, Any]) -> dict[str, Any] | None:
    """The failing worker's record from a group's exit.json (None: not a group, or none failed)."""
    rank = exit_info.get("failed_rank")
    workers = exit_info.get("workers")
    if not isinstance(rank, int) or not isinstance(workers, list):
        return None
    return next((w for w in workers if isinstance(w, dict) and w.get("rank") == rank), None)


def evidence(run: RunDir, exit_info: dict[str, Any], log_tail: str,
             events: Sequence[Event]) -> tuple[str, tuple[Event, ...]]:
    """The log tail and events the diagnosis should read: the failing worker's."""
    worker = failing_worker(exit_info)
    if worker is None or worker.get("rank") == 0:
        return log_tail, tuple(events)
    log = run.path / str(worker.get("log"))
    mine, _bad = decode_lines(tail_text(run.path / str(worker.get("events")), 1 << 20).encode().splitlines())
    return tail_text(log, 16 * 1024), tuple(mine[-MAX_EVENTS:])


def failing_memory(run: RunDir, exit_info: dict[str, Any], peak_rss: int | None,
                   host_total: int) -> tuple[int | None, int]:
    """The peak RSS and host size that tell a kill by the host's OOM killer from
    another kill, for the worker that failed. The watch samples rank 0's process
    here; another rank's is left to its own events' memory (None), and a worker
    on another host is measured against that host's memory, as its agent read it."""
    worker = failing_worker(exit_info)
    if worker is None or (worker.get("rank") == 0 and not worker.get("host")):
        return peak_rss, host_total
    if worker.get("host"):
        reading = read_json_object(run.path / f"hostmem.rank{worker.get('rank')}.json") or {}
        total = reading.get("host_total")
        return None, total if isinstance(total, int) and total > 0 else host_total
    return None, host_total


def name_worker(verdict: Verdict, exit_info: dict[str, Any]) -> Verdict:
    """The verdict of a group's attempt names the failing worker and the others' fate."""
    world = exit_info.get("world_size")
    if not isinstance(world, int) or world < 2:
        return verdict
    worker = failing_worker(exit_info)
    others = [w for w in exit_info.get("workers") or () if isinstance(w, dict) and w is not worker]
    details: dict[str, Any] = {**verdict.details, "world_size": world, "workers": exit_info.get("workers")}
    if worker is None:
        return dataclasses.replace(verdict, details=details)
    rank = worker.get("rank")
    stopped = [w for w in others if w.get("stopped_by_group")]
    seconds = exit_info.get("all_stopped_seconds")
    details.update(failed_rank=rank, failed_log=worker.get("log"), failed_events=worker.get("events"),
                   all_stopped_seconds=seconds)
    fate = ""
    if stopped:
        ranks = ", ".join(str(w.get("rank")) for w in stopped)
        fate = (f" memtui stopped the other worker{'s' if len(stopped) > 1 else ''} (rank {ranks})"
                + (f"; all were gone {seconds:.1f} s after it ended." if isinstance(seconds, (int, float)) else "."))
    elif isinstance(seconds, (int, float)):
        ranks = ", ".join(str(w.get("rank")) for w in others)
        many = len(others) > 1
        fate = (f" The other worker{'s' if many else ''} (rank {ranks}) ended by "
                f"{'themselves' if many else 'itself'} within {seconds:.1f} s.")
    where = f" on {worker['host']}" if worker.get("host") else ""
    evidence = (f"worker rank {rank}{where}: exit {worker.get('returncode')}"
                + (f" ({worker.get('signal')})" if worker.get("signal") else ""), *verdict.evidence)
    if worker.get("lost_connection"):
        # ssh's own ending (255) with no word from the agent: the network or the host, not the training.
        summary = (f"The SSH connection to worker rank {rank} of {world}{where} was lost ({worker.get('log')} "
                   f"has ssh's words); that is not an out-of-memory in training.{fate}")
        return dataclasses.replace(verdict, kind=NOT_OOM, summary=summary, remedies=(),
                                   evidence=(f"worker rank {rank}{where}: the SSH connection ended without the "
                                             "worker's exit status", *verdict.evidence),
                                   details={**details, "lost_connection": True})
    summary = f"Worker rank {rank} of {world}{where} failed first ({worker.get('log')}). {verdict.summary}{fate}"
    return dataclasses.replace(verdict, summary=summary, evidence=evidence, details=details)
