"""Find the largest batch that fits, one short fresh process per probe.

An out-of-memory error leaves TensorFlow's allocator pool and the Python heap in
a state nobody can vouch for, so a probe is never retried in-process (the trap
Lightning's finder falls into): every probe is a new trainer process that runs
a couple of steps and exits. With a warm spare (tui/supervision/spare.py) that
process has TensorFlow imported already, so a probe costs its steps, not the
import. The search itself is pure (`BatchSearch`) so its probe bound can be
checked on any predicate without TensorFlow.

The search grows from the current batch by doubling until a probe fails or the
upper bound is reached, then bisects between the last fit and the first
failure. A bound that fits ends the search at once. When the current batch
itself does not fit it halves down to the first fit instead, then bisects.
The upper bound is `--max-batch` and also the data: never more than the
training set holds divided by MIN_STEPS_PER_EPOCH (see `data_bound`).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

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
# The batch never leaves an epoch fewer than this many steps. With one or two
# steps an epoch is one or two optimizer updates and BatchNorm statistics from
# as many batches: on the demo, a batch of 921 (more than its 600 files) made
# each epoch one step and accuracy after 5 epochs fell from 0.78 to 0.48. Four
# steps keeps a few updates per epoch while still letting a small data set use
# a quarter of itself per step.
MIN_STEPS_PER_EPOCH = 4

LimitedBy = Literal["memory", "data", "bound"]


def _log2_ceil(x: float) -> int:
    return math.ceil(math.log2(x)) if x > 1 else 0


def probe_bound(lo: int, hi: int, gap: int) -> int:
    """The promised ceiling on probes: ceil(log2(hi/lo)) + ceil(log2(gap)) + 1.

    `lo..hi` is the range the growing phase walks (the start up to the bound,
    or 1 up to the start when the start does not fit) and `gap` the distance
    between the last fit and the first failure it leaves (0 or 1: nothing to
    bisect). All in the search's units (multiples of `multiple_of`)."""
    return _log2_ceil(hi / lo) + _log2_ceil(gap) + 1


def max_probes(max_batch: int, start: int = 1, multiple_of: int = 1) -> int:
    """The most probes a search of 1..max_batch from `start` can take, whatever the answers."""
    hi = max_batch // multiple_of
    lo = min(max(1, start // multiple_of), hi)
    # Growing up: the gap left is at most the last fit, which is at most hi/2.
    up = probe_bound(lo, hi, max(1, hi // 2)) if hi > lo else 1
    # Halving down from the start: the gap is at most half the start, rounded up.
    down = probe_bound(1, lo, (lo + 1) // 2) if lo > 1 else 1
    return max(up, down)


def with_margin(batch: int, margin: float, multiple_of: int = 1) -> int:
    """`batch` scaled down by `margin`, floored to a multiple of `multiple_of`,
    never below one multiple."""
    return max(1, math.floor(batch * margin) // multiple_of) * multiple_of


def data_bound(train_examples: int | None) -> int | None:
    """The largest batch the data allows: MIN_STEPS_PER_EPOCH steps per epoch (at least 1)."""
    if train_examples is None:
        return None
    return max(1, train_examples // MIN_STEPS_PER_EPOCH)


class BatchSearch:
    """Grow-then-bisect search for the largest batch in 1..max_batch that fits.

    Batches are multiples of `multiple_of` (1: any batch; 8 suits GPU tensor
    cores). In those units: the search starts at `start` (the current batch,
    clamped into range) and doubles while probes fit, up to the bound; the
    first failure (or, when the start fails, halving down to the first fit)
    leaves a bracket `fits < ooms`, which is then bisected. Invariant: every
    k <= `fits` is known (or assumed) to fit and every k >= `ooms` to run out
    of memory. No batch is probed twice, and the number of probes is within
    `probe_bound(lo, hi, gap)` whatever the answers are, monotone or not.

    `limit` is "bound" when --max-batch ended the search, "data" when the
    data bound (`data_limit`) did, else "memory".
    """

    def __init__(self, max_batch: int, multiple_of: int = 1, start: int | None = None,
                 data_limit: int | None = None) -> None:
        if multiple_of < 1:
            raise ValueError(f"multiple_of must be at least 1, got {multiple_of}")
        if max_batch < multiple_of:
            raise ValueError(f"max_batch must be at least {multiple_of}, got {max_batch}")
        self.max_batch = max_batch
        self.multiple_of = multiple_of
        self.data_limit = data_limit
        upper = max_batch if data_limit is None else min(max_batch, data_limit)
        self.hi = max(1, upper // multiple_of)  # the bound, in units
        self.bound_is_data = data_limit is not None and data_limit < max_batch
        self.start = min(max(1, (start or 1) // multiple_of), self.hi)
        self.fits = 0  # 0: nothing has fitted yet
        self.ooms = self.hi + 1
        self.growing = True  # still doubling (or halving from a start that failed)
        self.down = False  # the start failed: halving
        self.gap: int | None = None  # ooms - fits when growing ended
        self.probes: list[tuple[int, bool]] = []
        self.brackets: list[tuple[int, int]] = []  # (lo, hi) batches still open after each probe

    @property
    def done(self) -> bool:
        return self.ooms - self.fits <= 1

    def next_batch(self) -> int | None:
        """The batch to probe next, or None when the answer is known."""
        if self.done:
            return None
        if not self.probes:
            k = self.start
        elif self.growing and not self.down:
            k = min(self.fits * 2, self.hi)
        elif self.growing:
            k = max(1, self.ooms // 2)
        else:
            k = (self.fits + self.ooms) // 2
        return k * self.multiple_of

    def record(self, batch: int, fitted: bool) -> None:
        self.probes.append((batch, fitted))
        k = batch // self.multiple_of
        if fitted:
            self.fits = max(self.fits, k)
        else:
            self.ooms = min(self.ooms, k)
        if self.growing:
            if len(self.probes) == 1 and not fitted:
                self.down = True
            if (self.down and fitted) or (not self.down and not fitted) or self.done:
                self.growing = False
                self.gap = self.ooms - self.fits
        self.brackets.append(self.open_range())

    def open_range(self) -> tuple[int, int]:
        """(lo, hi): the batches still open; lo > hi once the answer is known."""
        m = self.multiple_of
        return (self.fits + 1) * m, (self.ooms - 1) * m

    def probes_left(self) -> int:
        """At most how many more probes the search needs."""
        if self.done:
            return 0
        if not self.probes:
            return self._fresh_bound()
        gap = self.ooms - self.fits
        if not self.growing:
            return _log2_ceil(gap)
        if self.down:
            # Halving to 1 at most, then a bisection of at most half the last failure.
            return _log2_ceil(self.ooms) + _log2_ceil((self.ooms + 1) // 2)
        return _log2_ceil(self.hi / self.fits) + _log2_ceil(max(1, self.hi // 2))

    def _fresh_bound(self) -> int:
        hi, lo = self.hi, self.start
        up = probe_bound(lo, hi, max(1, hi // 2)) if hi > lo else 1
        down = probe_bound(1, lo, (lo + 1) // 2) if lo > 1 else 1
        return max(up, down)

    def bound(self) -> int:
        """The ceiling this search promised, from its own growing phase (for tests)."""
        lo, hi = (1, self.start) if self.down else (self.start, self.hi)
        return probe_bound(lo, hi, self.gap or 0)

    @property
    def largest(self) -> int | None:
        """The largest batch that fits, None when even the smallest does not."""
        return self.fits * self.multiple_of or None

    @property
    def limited_by(self) -> LimitedBy:
        """What stopped the batch from growing: memory, the data, or --max-batch."""
        if self.fits == self.hi and self.ooms > self.hi:
            return "data" if self.bound_is_data else "bound"
        return "memory"


def search(fits: Callable[[int], bool], max_batch: int, multiple_of: int = 1, start: int | None = None,
           data_limit: int | None = None) -> BatchSearch:
    """Run the search to the end with a predicate (pure; for tests and tools)."""
    state = BatchSearch(max_batch, multiple_of, start, data_limit)
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
    lo: int = 0  # the batches still open after this probe: lo..hi (lo > hi: the answer is known)
    hi: int = 0
    warm: bool = False  # the probe ran in the warm spare (TensorFlow already imported)


@dataclass(frozen=True)
class FindResult:
    largest: int | None  # None: even the smallest batch ran out of memory
    recommended: int | None  # largest x margin, floored (to a multiple, if asked), at least 1
    margin: float
    probes: tuple[ProbeReport, ...]
    limited_by: LimitedBy = "memory"  # what stopped the batch: memory, the data, or --max-batch
    bound: int | None = None  # the largest batch the search would try (--max-batch and the data)
    train_examples: int | None = None  # what the data bound was computed from

    def launch_config(self, config: RunConfig) -> RunConfig | None:
        """`config` with the recommended batch, ready to launch."""
        return None if self.recommended is None else config.replace(batch_size=self.recommended)

    @property
    def why(self) -> str:
        """One sentence on what limits the batch, for the screen and the command."""
        if self.largest is None:
            return "even the smallest batch ran out of memory"
        if self.limited_by == "data":
            return (f"the data limits the batch, not memory: {self.train_examples} training examples allow at "
                    f"most {self.bound} per step ({MIN_STEPS_PER_EPOCH} steps per epoch at least), and it fits")
        if self.limited_by == "bound":
            return f"--max-batch {self.bound} fits: memory may allow more; raise --max-batch to look further"
        return f"memory limits the batch: {self.largest} fits and the next larger batch tried did not"


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


def training_examples(config: RunConfig) -> int | None:
    """How many examples one epoch trains on (the data bound's input), without TensorFlow;
    None when the folder cannot be counted (the probe will say why)."""
    if config.data is None:
        from trainer.demo import CLASSES, PER_CLASS

        files = len(CLASSES) * PER_CLASS
    else:
        from trainer.config import ConfigError
        from tui.kinds.datacheck import check_data_folder

        try:
            files = check_data_folder(config.data).files
        except ConfigError:
            return None
    n_val = 0
    if config.validation_split > 0 and files >= 2:  # as trainer.data.split counts it
        n_val = min(files - 1, max(1, round(files * config.validation_split)))
    return files - n_val


def new_search(config: RunConfig, max_batch: int = DEFAULT_MAX_BATCH, multiple_of: int = 1,
               start: int | None = None, respect_data: bool = True) -> tuple[BatchSearch, int | None]:
    """The search find_batch runs for `config` (from its batch, bounded by the data), and the
    training examples the bound came from."""
    examples = training_examples(config) if respect_data else None
    limit = data_bound(examples)
    if limit is not None and limit < multiple_of:
        limit = multiple_of  # one multiple is the least a search can try
    return BatchSearch(max_batch, multiple_of, start or config.batch_size, limit), examples


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
    start: int | None = None,
    respect_data: bool = True,
    spare: bool = True,
) -> FindResult:
    """Search the batch (grow from `start`, default the config's batch, then bisect)
    with one fresh trainer per probe, each in the warm spare when `spare`.

    Blocking; call it from a worker thread in the screen. `on_start(index,
    batch)` fires as a probe launches and `on_probe(report)` as it ends.
    Raises ProbeFailed when a probe crashes for a reason other than memory
    and SearchCancelled when `cancel` is set.
    """
    if not 0.0 < margin <= 1.0:
        raise ValueError(f"margin must be above 0 and at most 1, got {margin}")
    # Imported here so the pure search above loads without the process machinery.
    from tui.supervision.supervisor import Supervisor

    state, examples = new_search(config, max_batch, multiple_of, start, respect_data)
    notices: queue.Queue[Notice] = queue.Queue()
    # Probes are short: the next spare starts as soon as one is handed over, so it
    # imports TensorFlow while the probe trains.
    supervisor = Supervisor(store, trainer_module=trainer_module, sink=notices.put, spare=spare,
                            spare_early=True)
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
                lo=state.open_range()[0],
                hi=state.open_range()[1],
                warm=info.spare,
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
        limited_by=state.limited_by,
        bound=state.hi * multiple_of,
        train_examples=examples,
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
