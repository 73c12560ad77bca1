"""The main screen: header, verdict panel, memory panel, plots, history, step log.

Below WIDE columns everything stacks, and `p` switches the log's place between
the step log and the plots; from WIDE columns the gauges and plots sit in a
column beside the history and the step log, under the verdict.

It only displays. The app owns the supervisor and sampler and hands this
screen what happened; nothing here reads files or samples hardware.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen

from trainer.protocol import Epoch, Error, Event, Oom, RunEnd, RunStart, Step
from tui.common.states import LIVE_STATES
from tui.common.units import step_count
from tui.common.verdict import Verdict
from tui.diagnosis.refusals import late_lines
from tui.kinds.words import fit_start_words
from tui.telemetry.snapshot import Snapshot
from tui.ui.plotdata import SessionPlots
from tui.ui.widgets.footer import KeyFooter
from tui.ui.widgets.header import HeaderView, RunHeader
from tui.ui.widgets.history import HistoryTable
from tui.ui.widgets.memory import MemoryPanel
from tui.ui.widgets.plots import KEY_WORDS, PlotsPanel, limit_of
from tui.ui.widgets.steplog import StepLog
from tui.ui.widgets.verdict import VerdictPanel
from tui.ui.widgets.words import nbytes, step_line

if TYPE_CHECKING:
    from trainer.config import RunConfig
    from tui.session.preflight import Preflight
    from tui.supervision.attempt import AttemptInfo

WIDE = 120  # columns from which gauges and plots sit beside the history and the log
STEPS_TITLE = "steps"


def event_line(event: Event) -> str | None:
    """The step-log line for one event (None: not worth a line)."""
    if isinstance(event, Step):
        return step_line(event)
    if isinstance(event, RunStart) and "phase" in event.raw:  # the user's own script's fit()
        return f"── {fit_start_words(event.raw)}"
    if isinstance(event, RunStart):
        devices = ", ".join(str(d.get("name", "?")) for d in event.devices) or "no devices"
        return f"── started: {event.params:,} parameters on {devices} (TensorFlow {event.tf_version})"
    if isinstance(event, Epoch):
        metrics = "  ".join(f"{k} {v:.4f}" for k, v in event.metrics.items() if isinstance(v, (int, float)))
        return f"── epoch {event.epoch} done  {metrics}"
    if isinstance(event, Oom):
        where = f" on {event.device}" if event.device else ""
        shape = f" allocating {event.shape}" if event.shape else ""
        return f"✗ out of memory{where}{shape}: {event.message[:200]}"
    if isinstance(event, Error):
        return f"✗ {event.exception}: {event.message[:200]}"
    if isinstance(event, RunEnd):
        peak = f", peak {nbytes(event.peak_memory)}" if event.peak_memory else ""
        return f"── run ended: {event.status} after {step_count(event.steps)}{peak}"
    return None


def start_details(event: RunStart) -> list[str]:
    """What the trainer found and decided at start: data, skipped files, its notes."""
    data = event.dataset
    lines = []
    if isinstance(data.get("files"), int):
        skipped = data.get("skipped") or 0
        examples = ", ".join(str(x) for x in (data.get("skipped_examples") or [])[:2])
        skip = f"; {skipped} unreadable skipped ({examples})" if skipped else ""
        lines.append(f"── data: {data['files']:,} images in {data.get('classes', '?')} classes{skip}")
    # The trainer's notes already say when it resumed from a backup, and from where.
    lines += [f"── note: {note}" for note in event.raw.get("notes") or () if isinstance(note, str)]
    return lines


class MainScreen(Screen[None]):
    # Narrow terminals stack everything, the log (or, with `p`, the plots)
    # taking what is left; from WIDE columns two columns side by side.
    DEFAULT_CSS = """
    MainScreen #body { height: 1fr; layout: vertical; }
    MainScreen #side { height: auto; }
    MainScreen #runs { height: 1fr; }
    MainScreen PlotsPanel { display: none; }
    /* `p` below WIDE: the plots in the log's place; their titles carry the gauges' figures. */
    MainScreen.-plots #side { height: 1fr; }
    MainScreen.-plots #runs { display: none; }
    MainScreen.-plots MemoryPanel { display: none; }
    MainScreen.-plots PlotsPanel { display: block; }
    MainScreen.-wide #body { layout: horizontal; }
    MainScreen.-wide #side { width: 1fr; height: 100%; }
    MainScreen.-wide #runs { width: 45%; max-width: 72; height: 100%; display: block; }
    MainScreen.-wide MemoryPanel { display: block; }
    MainScreen.-wide PlotsPanel { display: block; }
    """

    def __init__(self) -> None:
        super().__init__()
        # Held, not queried: a DOM query per step was a measurable share of the
        # screen's CPU at 20 steps a second.
        self.header = RunHeader(id="header")
        self.memory = MemoryPanel(id="memory")
        self.verdict = VerdictPanel(id="verdict")
        self.history = HistoryTable(id="history")
        self.steplog = StepLog(id="steplog")
        self.plot_data = SessionPlots()
        self.plots = PlotsPanel(self.plot_data, id="plots")
        self.last_step: Step | None = None  # the attempt's newest, for the header
        self.fit_start: RunStart | None = None  # the newest fit()'s run_start, for what its run_end adds
        self.show_plots = False  # below WIDE: the plots in the log's place (`p`)

    def compose(self) -> ComposeResult:
        yield self.header
        # The verdict (when there is one) spans the width: its evidence and remedies are long lines.
        yield self.verdict
        with Horizontal(id="body"):
            with Vertical(id="side"):
                yield self.memory
                yield self.plots
            with Vertical(id="runs"):
                yield self.history
                yield self.steplog
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.history.border_title = "attempts"
        self._titles()

    def on_resize(self) -> None:
        wide = self.size.width >= WIDE
        self.set_class(wide, "-wide")
        self.memory.spark = not wide
        self.steplog.on_view = wide or not self.show_plots
        self._titles()
        self.plots.draw(force=True)

    @property
    def wide(self) -> bool:
        return self.has_class("-wide")

    def toggle_plots(self) -> bool:
        """`p`: the plots in the step log's place, or back (below WIDE columns).
        False when the screen is wide enough to show both, and nothing changed."""
        if self.wide:
            return False
        self.show_plots = not self.show_plots
        self.set_class(self.show_plots, "-plots")
        self.steplog.on_view = not self.show_plots
        self._titles()
        self.plots.draw(force=True)
        return True

    def _titles(self) -> None:
        """The key that switches log and plots, named where it applies."""
        narrow = not self.wide
        self.steplog.border_title = f"{STEPS_TITLE} · p: plots" if narrow else STEPS_TITLE
        self.plots.hint = KEY_WORDS if narrow else ""

    # --- fed by the app -------------------------------------------------------

    def refresh_header(self, info: AttemptInfo | None, *, idle_state: str, config: RunConfig | None,
                       auto_recover: bool, attached: bool, now: float, search: str | None = None) -> None:
        """The header (and the history's row) for the attempt as it stands now."""
        elapsed = None
        if info is not None and info.started:
            elapsed = (info.ended or now) - info.started
        self.show_header(
            HeaderView(
                state=info.state if info else idle_state,
                attempt=info.number if info else None,
                config=info.config if info else config,
                elapsed=elapsed,
                last_step=self.last_step,
                steps=info.steps if info else 0,
                steps_per_second=info.steps_per_second if info else None,
                reason=info.reason if info and info.number > 1 else "",
                auto_recover=auto_recover,
                read_only=bool(info and info.read_only),
                attached=info.run_id if info and attached else None,
                search=search,
            )
        )
        if info is not None:
            self.record(info)

    def probe_row(self, index: int, batch: int, outcome: str, peak: int | None = None,
                  examples_per_second: float | None = None) -> None:
        """A find-batch probe as a dim row of the attempts table (it is not an attempt of this session)."""
        self.history.record_probe(index, batch, outcome, peak, examples_per_second)

    def show_header(self, view: HeaderView) -> None:
        self.header.show(view)
        if view.last_step is not None and view.last_step is not self.memory.last_step:
            self.memory.feed_step(view.last_step)

    def preflight(self, checked: Preflight) -> None:
        """The pre-flight estimate of the attempt about to launch, in the log."""
        from tui.session.preflight import one_line  # after the first frame (bench/startup.py)

        self.log_line(f"── {one_line(checked)}")
        if checked.warning:
            self.log_line(f"▲ {checked.warning}")

    def feed_snapshot(self, snapshot: Snapshot, *, draw: bool = True) -> None:
        self.memory.feed(snapshot, draw=draw)
        self.plot_data.snapshot(snapshot)
        if draw:
            self.plots.draw()

    def follow_ranks(self, info: AttemptInfo | None) -> None:
        """A live group's newest step per rank, for the slowest worker beside rank 0 (a tail of each events file)."""
        if info is None or info.config is None or info.config.workers < 2 or info.state not in LIVE_STATES:
            return
        from tui.runs.ranks import rank_steps

        self.memory.rank_steps = rank_steps(Path(info.run_dir), info.config.workers)

    def catch_up(self) -> None:
        """The screen's tick: the log writes its waiting lines, the gauges their
        newest sample (the app redraws the header and history beside them)."""
        self.steplog.flush()
        self.memory.draw()
        self.plots.draw()

    def attempt_started(self, info: AttemptInfo) -> None:
        self.last_step = None
        self.fit_start = None
        if any(not key.startswith("p") for key in self.history.row_keys):  # an earlier attempt (probes aside)
            self.memory.mark_relaunch()
        self.plot_data.attempt_started(info.number, info.started, limit_of(info.config))
        self.verdict.show(None)
        self.steplog.show_newest(None)
        self.log_line(f"── attempt {info.number} ({info.run_id}): {info.reason}")
        self.history.record(info)

    def events(self, info: AttemptInfo, events: Iterable[Event], garbage: int) -> bool:
        """Log the batch and keep its newest step for the header; True when it
        brought the attempt's first step (the header should show it now)."""
        steplog = self.steplog
        plot = self.plot_data.event
        last: Step | None = None
        newest = ""
        for event in events:
            plot(event)
            line = event_line(event)
            if line is not None:
                steplog.add(line)
            if isinstance(event, RunStart):
                self.fit_start = event
                for detail in start_details(event):
                    steplog.add(detail)
            elif isinstance(event, RunEnd):
                for late in late_lines(event, self.fit_start):
                    steplog.add(late)
            if isinstance(event, Step):
                last, newest = event, line or ""
        if garbage:
            steplog.add(f"! {garbage} unreadable line{'s' if garbage != 1 else ''} in events.jsonl skipped")
        if last is not None:
            # The log catches up on the screen's tick; the border shows this step now.
            steplog.show_newest(newest)
            first = self.last_step is None
            self.last_step = last
            return first
        return False

    def attempt_ended(self, info: AttemptInfo, verdict: Verdict, enabled: set[str], note: str | None) -> None:
        self.history.record(info)
        self.plot_data.attempt_ended(info.state, info.ended)
        self.plots.draw()
        self.show_verdict(verdict, enabled, note)

    def show_verdict(self, verdict: Verdict | None, enabled: set[str], note: str | None = None) -> None:
        self.verdict.show(verdict, enabled, note)

    def record(self, info: AttemptInfo) -> None:
        self.history.record(info)

    def log_line(self, line: str) -> None:
        self.steplog.add(line)
