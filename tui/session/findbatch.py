"""Find the largest batch that fits, one short fresh process per probe.

An out-of-memory error leaves TensorFlow's allocator pool and the Python heap in
a state nobody can vouch for, so a probe is never retried in-process (the trap
Lightning's finder falls into): every probe is a new trainer process that runs
a couple of steps and exits. With a warm spare (tui/supervision/spare.py) that
process has TensorFlow imported already, so a probe costs its steps, not the
import. The search itself is pure (`BatchSearch`) so its probe bound can be
checked on any predicate without TensorFlow.
The search itself is in `tui.session.batchsearch`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trainer.config import RunConfig
from trainer.protocol import Step
from tui.common.verdict import FINISHED, STOPPED, Verdict
from tui.kinds import kind_for
from tui.runs.facts import peak_of
from tui.session.batchsearch import MIN_STEPS_PER_EPOCH, BatchSearch, LimitedBy, data_bound, with_margin
from tui.supervision.attempt import AttemptInfo

if TYPE_CHECKING:
    from tui.runs.store import RunStore

DEFAULT_MARGIN = 0.9
DEFAULT_MAX_BATCH = 1024
PROBE_STEPS = 2
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
        """`config` with the recommended batch, ready to launch (a script's batch set by memtui)."""
        if self.recommended is None:
            return None
        return kind_for(config).setting_batch(config).replace(batch_size=self.recommended)

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
    return kind_for(config).probe(config, batch, steps)


def training_examples(config: RunConfig) -> int | None:
    """How many examples one epoch trains on (the data bound's input), without TensorFlow;
    None when the folder cannot be counted (the probe will say why) or the data is the
    user's own script's."""
    if not kind_for(config).counts_examples:
        return None
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
    from tui.session.session import RunSession

    state, examples = new_search(config, max_batch, multiple_of, start, respect_data)
    # Probes are short: the next spare starts as soon as one is handed over, so it
    # imports TensorFlow while the probe trains. Nobody renders a probe's notices:
    # run_to_end collects what the search needs.
    session = RunSession(store, sink=lambda _notice: None, sink_blocks=False, trainer_module=trainer_module,
                         preflight_check=False, spare=spare, spare_early=True)
    reports: list[ProbeReport] = []
    try:
        while (batch := state.next_batch()) is not None:
            if cancel is not None and cancel.is_set():
                raise SearchCancelled("the batch search was cancelled")
            if on_start is not None:
                on_start(len(reports) + 1, batch)
            started = time.monotonic()
            cfg = probe_config(config, batch, probe_steps)
            ending = session.run_to_end(cfg, f"find-batch probe {len(reports) + 1}: does batch {batch} fit?", cancel)
            if ending is None:
                raise SearchCancelled("the batch search was cancelled")
            info, verdict, steps = ending.attempt, ending.verdict, ending.steps
            _check_batch_was_set(info)
            seconds = time.monotonic() - started
            fitted = _fitted(verdict, batch)
            state.record(batch, fitted)
            done = [*(r.seconds for r in reports), seconds]
            left = state.probes_left()
            report = ProbeReport(
                index=len(reports) + 1,
                batch=batch,
                fits=fitted,
                peak_memory=_peak(info, steps),
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
        session.stop()
        raise
    finally:
        session.close()
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


class BatchNotSettable(ProbeFailed):
    """The user's script trains on an input whose batch memtui cannot set."""


def _check_batch_was_set(info: AttemptInfo) -> None:
    """A probe of the user's script answers nothing if its fit() kept its own batch."""
    config = info.config
    if config is not None and (why := kind_for(config).probe_unanswered(config, info.state == "oom")) is not None:
        raise BatchNotSettable(why)


def _fitted(verdict: Verdict, batch: int) -> bool:
    if verdict.kind == FINISHED:
        return True
    if verdict.is_oom:
        return False
    if verdict.kind == STOPPED:
        raise SearchCancelled("the probe was stopped, so the search cannot go on")
    raise ProbeFailed(f"the probe at batch {batch} failed for a reason other than memory: {verdict.summary}")


def _peak(info: AttemptInfo, steps: list[Step]) -> int | None:
    if info.peak_memory:
        return int(info.peak_memory)
    known = [p for p in (peak_of(s.memory) for s in steps) if p is not None]
    return max(known) if known else None
