"""Find the largest batch that fits, one short fresh process per probe.

An out-of-memory error leaves TensorFlow's allocator pool and the Python heap in
a state nobody can vouch for, so a probe is never retried in-process (the trap
Lightning's finder falls into): every probe is a new trainer subprocess that
runs a couple of steps and exits. The search itself is pure (`BatchSearch`) so
its probe bound can be checked on any predicate without TensorFlow.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trainer.config import RunConfig
from trainer.protocol import Step
from tui.common.verdict import FINISHED, STOPPED, Verdict
from tui.runs.facts import peak_of
from tui.supervision.attempt import AttemptEnded, AttemptInfo, EventBatch, Notice

if TYPE_CHECKING:
    from tui.runs.store import RunStore
    from tui.supervision.supervisor import Supervisor

DEFAULT_MARGIN = 0.9
DEFAULT_MAX_BATCH = 1024
PROBE_STEPS = 2


def max_probes(max_batch: int) -> int:
    """The promised ceiling on probes: ceil(log2(max_batch)) + 2."""
    return math.ceil(math.log2(max_batch)) + 2 if max_batch > 1 else 2


def with_margin(batch: int, margin: float, multiple_of: int = 1) -> int:
    """`batch` scaled down by `margin`, floored to a multiple of `multiple_of`,
    never below one multiple."""
    return max(1, math.floor(batch * margin) // multiple_of) * multiple_of


class BatchSearch:
    """Binary search for the largest batch in 1..max_batch that fits.

    Batches are multiples of `multiple_of` (1: any batch; 8 suits GPU tensor
    cores). Invariant, in those units: every k <= `fits` is known (or assumed)
    to fit and every k >= `ooms` to run out of memory. Each probe halves the
    gap, so the search ends after at most ceil(log2(max_batch + 1)) probes,
    within `max_probes` whatever the answers are, monotone or not.
    """

    def __init__(self, max_batch: int, multiple_of: int = 1) -> None:
        if multiple_of < 1:
            raise ValueError(f"multiple_of must be at least 1, got {multiple_of}")
        if max_batch < multiple_of:
            raise ValueError(f"max_batch must be at least {multiple_of}, got {max_batch}")
        self.max_batch = max_batch
        self.multiple_of = multiple_of
        self.fits = 0  # 0: nothing has fitted yet
        self.ooms = max_batch // multiple_of + 1
        self.probes: list[tuple[int, bool]] = []

    @property
    def done(self) -> bool:
        return self.ooms - self.fits <= 1

    def next_batch(self) -> int | None:
        """The batch to probe next, or None when the answer is known."""
        if self.done:
            return None
        return (self.fits + self.ooms) // 2 * self.multiple_of

    def record(self, batch: int, fitted: bool) -> None:
        self.probes.append((batch, fitted))
        k = batch // self.multiple_of
        if fitted:
            self.fits = max(self.fits, k)
        else:
            self.ooms = min(self.ooms, k)

    def probes_left(self) -> int:
        """At most how many more probes the search needs."""
        gap = self.ooms - self.fits
        return math.ceil(math.log2(gap)) if gap > 1 else 0

    @property
    def largest(self) -> int | None:
        """The largest batch that fits, None when even the smallest does not."""
        return self.fits * self.multiple_of or None


def search(fits: Callable[[int], bool], max_batch: int, multiple_of: int = 1) -> BatchSearch:
    """Run the search to the end with a predicate (pure; for tests and tools)."""
    state = BatchSearch(max_batch, multiple_of)
    while (batch := state.next_batch()) is not None:
        state.record(batch, fits(batch))
    return state


# --- probing with real subprocesses -------------------------------------------


@dataclass(frozen=True)
class ProbeReport:
    """One finished probe, reported as the search goes."""

    index: int  # 1-based
    batch: int
    fits: bool
    peak_memory: int | None  # bytes, as the trainer measured it
    examples_per_second: float | None
    seconds: float  # wall time of the probe, launch to exit
    probes_left: int  # at most this many still to come
    eta_seconds: float | None  # probes_left x the mean probe time so far
    verdict: str  # the verdict's summary, in words
    run_id: str


@dataclass(frozen=True)
class FindResult:
    largest: int | None  # None: even the smallest batch ran out of memory
    recommended: int | None  # largest x margin, floored (to a multiple, if asked), at least 1
    margin: float
    probes: tuple[ProbeReport, ...]

    def launch_config(self, config: RunConfig) -> RunConfig | None:
        """`config` with the recommended batch, ready to launch."""
        return None if self.recommended is None else config.replace(batch_size=self.recommended)


class ProbeFailed(RuntimeError):
    """A probe ended neither by fitting nor by running out of memory."""


class SearchCancelled(RuntimeError):
    """The search was cancelled (Ctrl-C, a key in the screen)."""


def probe_config(config: RunConfig, batch: int, steps: int = PROBE_STEPS) -> RunConfig:
    """The short run that answers "does `batch` fit?".

    backup_dir=None lets the finder's own supervisor session hold the probes'
    backups, so a probe neither resumes from nor overwrites the user's backup.
    """
    return config.replace(
        batch_size=batch, epochs=1, steps_per_epoch=steps, validation_split=0.0, backup_dir=None
    )


def find_batch(
    config: RunConfig,
    store: RunStore,
    *,
    max_batch: int = DEFAULT_MAX_BATCH,
    margin: float = DEFAULT_MARGIN,
    multiple_of: int = 1,
    probe_steps: int = PROBE_STEPS,
    on_probe: Callable[[ProbeReport], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    trainer_module: str | None = None,
) -> FindResult:
    """Binary-search the batch with one fresh trainer per probe.

    Blocking; call it from a worker thread in the screen. `on_start(index,
    batch)` fires as a probe launches and `on_probe(report)` as it ends.
    Raises ProbeFailed when a probe crashes for a reason other than memory
    and SearchCancelled when `cancel` is set.
    """
    if not 0.0 < margin <= 1.0:
        raise ValueError(f"margin must be above 0 and at most 1, got {margin}")
    # Imported here so the pure search above loads without the process machinery.
    from tui.supervision.supervisor import Supervisor

    state = BatchSearch(max_batch, multiple_of)
    notices: queue.Queue[Notice] = queue.Queue()
    supervisor = Supervisor(store, trainer_module=trainer_module, sink=notices.put)
    reports: list[ProbeReport] = []
    try:
        while (batch := state.next_batch()) is not None:
            if cancel is not None and cancel.is_set():
                raise SearchCancelled("the batch search was cancelled")
            if on_start is not None:
                on_start(len(reports) + 1, batch)
            started = time.monotonic()
            cfg = probe_config(config, batch, probe_steps)
            info = supervisor.launch(cfg, f"find-batch probe {len(reports) + 1}: does batch {batch} fit?")
            ended, verdict, steps = _wait_for_end(supervisor, notices, info, cancel)
            seconds = time.monotonic() - started
            fitted = _fitted(verdict, batch)
            state.record(batch, fitted)
            done = [*(r.seconds for r in reports), seconds]
            left = state.probes_left()
            report = ProbeReport(
                index=len(reports) + 1,
                batch=batch,
                fits=fitted,
                peak_memory=_peak(ended, steps),
                examples_per_second=steps[-1].examples_per_second if steps else None,
                seconds=seconds,
                probes_left=left,
                eta_seconds=left * sum(done) / len(done),
                verdict=verdict.summary,
                run_id=info.run_id,
            )
            reports.append(report)
            if on_probe is not None:
                on_probe(report)
    except BaseException:
        # Ctrl-C or a failed probe: a probe still running must not outlive the search.
        supervisor.stop()
        raise
    finally:
        supervisor.close()
    largest = state.largest
    return FindResult(
        largest=largest,
        recommended=None if largest is None else with_margin(largest, margin, multiple_of),
        margin=margin,
        probes=tuple(reports),
    )


def _fitted(verdict: Verdict, batch: int) -> bool:
    if verdict.kind == FINISHED:
        return True
    if verdict.is_oom:
        return False
    if verdict.kind == STOPPED:
        raise SearchCancelled("the probe was stopped, so the search cannot go on")
    raise ProbeFailed(f"the probe at batch {batch} failed for a reason other than memory: {verdict.summary}")


def _wait_for_end(
    supervisor: Supervisor,
    notices: queue.Queue[Notice],
    info: AttemptInfo,
    cancel: threading.Event | None,
) -> tuple[AttemptInfo, Verdict, list[Step]]:
    """Block until the probe's attempt ends; collect its steps on the way."""
    steps: list[Step] = []
    stopping = False
    while True:
        if cancel is not None and cancel.is_set() and not stopping:
            stopping = True
            supervisor.stop()
        try:
            notice = notices.get(timeout=0.2)
        except queue.Empty:
            continue
        if isinstance(notice, EventBatch) and notice.attempt.run_id == info.run_id:
            steps.extend(e for e in notice.events if isinstance(e, Step))
        elif isinstance(notice, AttemptEnded) and notice.attempt.run_id == info.run_id:
            if stopping:
                raise SearchCancelled("the batch search was cancelled")
            return notice.attempt, notice.verdict, steps


def _peak(info: AttemptInfo, steps: list[Step]) -> int | None:
    if info.peak_memory:
        return int(info.peak_memory)
    known = [p for p in (peak_of(s.memory) for s in steps) if p is not None]
    return max(known) if known else None
