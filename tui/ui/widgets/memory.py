"""The memory panel: a gauge per GPU (or host memory on a CPU-only host), this
run against other processes, TensorFlow's own figures and a sparkline of used
memory that marks each relaunch.

The panel is fed; it never samples. Snapshots arrive from the sampler thread
as messages and the app hands them over here.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from textual.content import Content
from textual.markup import escape
from textual.widget import Widget

from trainer.protocol import Step
from tui.runs.ranks import slowest
from tui.telemetry.snapshot import GpuDevice, Snapshot, WorkerUsage
from tui.ui.widgets.words import bar, level_style, level_symbol, nbytes, tf_memory

SPARK = "▁▂▃▄▅▆▇█"
RELAUNCH_MARK = "┃"
HISTORY = 600  # samples kept; the widest terminal shows a few hundred


@dataclass(frozen=True)
class Sample:
    used: int
    total: int
    relaunch: bool  # the first sample after an attempt started


def spark(samples: list[Sample], width: int) -> str:
    """The newest `width` samples as blocks scaled to the device total; a
    relaunch shows as a heavy bar so the eye finds where settings changed."""
    out = []
    for s in samples[-width:]:
        if s.relaunch:
            out.append(RELAUNCH_MARK)
            continue
        frac = s.used / s.total if s.total else 0.0
        out.append(SPARK[min(len(SPARK) - 1, max(0, round(frac * (len(SPARK) - 1))))])
    return "".join(out)


def gauge_line(label: str, used: int, total: int, width: int, tail: str = "") -> str:
    frac = used / total if total else 0.0
    style = level_style(frac)
    numbers = f" {nbytes(used)}/{nbytes(total)}"
    head = f"{label} [{style}]{level_symbol(frac)} {frac:4.0%}[/] "
    room = width - len(label) - 8 - len(numbers) - len(tail)
    gauge = f"[{style}]{bar(frac, max(4, min(room, 60)))}[/]"
    return head + gauge + numbers + tail


class MemoryPanel(Widget):
    """Gauges and a sparkline; each sample is kept as it arrives and drawn on the
    screen's tick (`draw`), or at once where a caller asks (`feed(draw=True)`)."""

    DEFAULT_CSS = "MemoryPanel { height: auto; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.snapshot: Snapshot | None = None
        self.last_step: Step | None = None
        self.samples: deque[Sample] = deque(maxlen=HISTORY)
        self._pending_mark = False
        self._height = 1  # lines drawn so far: the waiting line
        self._undrawn = False  # a sample came that is not on screen yet
        self._spark = True
        # (width, lines) as last made: a frame asks for them up to three times (height, layout, render).
        self._cache: tuple[int, list[str]] | None = None
        self.spare_bytes: int | None = None  # memtui's warm spare (host RAM that is memtui's, not the run's)
        self._worker_peaks: dict[tuple[int, int], int] = {}  # (rank, pid) -> the most memory seen
        self.rank_steps: dict[int, int] = {}  # a group's newest step per rank (tui/runs/ranks.py)

    def feed(self, snapshot: Snapshot, *, draw: bool = True) -> None:
        """Take a sample; `draw=False` leaves the drawing to the next `draw()`
        (the very first sample is drawn at once: it replaces the waiting line)."""
        draw = draw or self.snapshot is None
        self.snapshot = snapshot
        self._cache = None
        used, total = _used_total(snapshot)
        self.samples.append(Sample(used, total, self._pending_mark))
        for w in snapshot.trainer.workers if snapshot.trainer is not None else ():
            key = (w.rank, w.pid)
            self._worker_peaks[key] = max(_worker_memory(snapshot, w)[1], self._worker_peaks.get(key, 0))
        self._pending_mark = False
        self._undrawn = True
        if draw:
            self.draw()

    def draw(self) -> None:
        """Redraw if a sample came since the last drawing."""
        if self._undrawn:
            self._redraw()

    def set_spare(self, rss: int | None) -> None:
        """The warm spare's resident bytes now (None: no spare); drawn with the next sample."""
        if rss != self.spare_bytes:
            self.spare_bytes = rss
            self._cache = None
            self._undrawn = True

    def _spare_words(self) -> str:
        return f" · memtui's warm spare {nbytes(self.spare_bytes)}" if self.spare_bytes else ""

    def feed_step(self, step: Step) -> None:
        self.last_step = step
        self._cache = None
        self._redraw()

    @property
    def spark(self) -> bool:
        """The sparkline under the gauges (the wide screen has the memory plot instead)."""
        return self._spark

    @spark.setter
    def spark(self, on: bool) -> None:
        if on != self._spark:
            self._spark = on
            self._cache = None
            self._redraw()

    def _redraw(self) -> None:
        self._undrawn = False
        # The panel's height is its line count; only a change there (a GPU
        # appearing, TensorFlow's figures, an error line) needs a layout of the
        # screen, not each new sample.
        height = len(self.lines(self.size.width or 80))
        self.refresh(layout=height != self._height)
        self._height = height

    def mark_relaunch(self) -> None:
        """The next sample starts a new attempt."""
        self._pending_mark = True

    def lines(self, width: int) -> list[str]:
        cached = self._cache
        if cached is not None and cached[0] == width:
            return cached[1]
        out = self._lines(width)
        self._cache = (width, out)
        return out

    def _lines(self, width: int) -> list[str]:
        snap = self.snapshot
        if snap is None:
            return ["[dim]memory: waiting for the first sample…[/]"]
        out: list[str] = []
        if snap.gpus:
            for gpu in snap.gpus:
                out += _gpu_lines(gpu, width)
        else:
            reason = f"({snap.gpu_message}) " if snap.gpu_message and snap.gpu_status != "no-driver" else ""
            # The space after the bold words is inside their span: SVG converters drop a span's opening spaces.
            out.append(f"[b]CPU-only host: no NVIDIA GPU [/]{escape(reason)}— showing host memory")
            host = snap.host
            swap = f" swap {nbytes(host.swap_used_bytes)}" if host.swap_total_bytes else ""
            out.append(gauge_line("host", host.used_bytes, host.total_bytes, width, swap))
            if snap.trainer is not None:
                # Workers on other hosts (--hosts): what runs here is memtui's reaper and SSH clients.
                who = "here (reaper, ssh)" if any(w.host for w in snap.trainer.workers) else "trainer"
                out.append(
                    f"  {who} RSS {nbytes(snap.trainer.rss_bytes)} · CPU {snap.trainer.cpu_percent:.0f}%"
                    f"{self._tf_words()}{self._spare_words()}"
                )
            else:
                last = self._tf_words().replace(" · ", "", 1)
                out.append("  [dim]trainer not running[/]" + (f" · its RSS {last}" if last else "")
                           + self._spare_words())
        if snap.gpus:
            words = (self._tf_words() + self._spare_words()).lstrip(" ·")
            if words:
                out.append(" " + words)
        out += self._worker_lines(snap, width)
        if self.spark:
            samples = list(self.samples)
            label = "used "
            legend = f"  {RELAUNCH_MARK}=relaunch" if any(s.relaunch for s in samples) else ""
            room = max(8, width - len(label) - len(legend))
            out.append(f"[dim]{label}[/]{spark(samples, room)}[dim]{legend}[/]")
        for err in snap.errors[:1]:
            out.append(f"[$warning]! {escape(err)}[/]")
        return out

    def _worker_lines(self, snap: Snapshot, width: int) -> list[str]:
        """A gauge row per worker of a group: host, device, its memory now, its peak (this attempt)."""
        workers = snap.trainer.workers if snap.trainer is not None else ()
        if not workers:
            return []
        pids = ", ".join(str(w.pid) for w in workers)
        hosts = list(dict.fromkeys(w.host for w in workers if w.host))
        where = f"{len(hosts)} host{'s' if len(hosts) > 1 else ''}" if hosts else "localhost"
        rows = [f"  [b]{len(workers)} workers on {escape(where)} [/]{_pace(self.rank_steps)}"
                f"[dim]memory now, peak this attempt (pids {pids})[/]"]
        for w in workers:
            device, used, total = _worker_memory(snap, w)
            peak = max(used, self._worker_peaks.get((w.rank, w.pid), 0))
            step = f" step {self.rank_steps[w.rank]}" if w.rank in self.rank_steps else ""
            rows.append(gauge_line(f"  rank {w.rank} {escape(device)}", used, total, width,
                                   f" peak {nbytes(peak)}{step}"))
        return rows

    def _tf_words(self) -> str:
        if self.last_step is None:
            return ""
        current, peak, label = tf_memory(self.last_step.memory)
        if current is None and peak is None:
            return ""
        if label == "TF":
            return f" · TensorFlow now {nbytes(current)}, peak {nbytes(peak)}"
        return f" · at the last step {nbytes(current)} (peak {nbytes(peak)})"

    def render(self) -> Content:
        return Content.from_markup("\n".join(self.lines(self.size.width or 80)))

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self.lines(width))


def _used_total(snap: Snapshot) -> tuple[int, int]:
    live = [g for g in snap.gpus if not g.lost]
    if live:
        return sum(g.used_bytes for g in live), sum(g.total_bytes for g in live)
    return snap.host.used_bytes, snap.host.total_bytes


def _pace(steps: dict[int, int]) -> str:
    """The slowest worker beside rank 0: a straggler (a slow host, a stuck input pipeline) holds every step up."""
    lag = slowest(steps)
    if lag is None or 0 not in steps:
        return ""
    rank, step = lag
    if step >= steps[0]:
        return f"[dim]all at step {step}[/] · "
    return f"[$warning]slowest rank {rank} at step {step}[/] [dim](rank 0: {steps[0]})[/] · "


def _worker_memory(snap: Snapshot, w: WorkerUsage) -> tuple[str, int, int]:
    """A worker's device and memory: as its host's agent read them (--hosts), else from this host's readings."""
    if w.device and w.used_bytes is not None:
        return f"{w.host} {w.device}".strip(), w.used_bytes, w.total_bytes or w.used_bytes
    return _worker_device(snap, w.pid, w.rss_bytes)


def _worker_device(snap: Snapshot, pid: int, rss: int) -> tuple[str, int, int]:
    """Where a worker's memory is (its GPU where NVML names its pid, else the host): (device, used, total)."""
    for gpu in snap.gpus:
        for proc in gpu.processes:
            if proc.pid == pid and proc.used_bytes is not None:
                return f"GPU{gpu.index}", proc.used_bytes, gpu.total_bytes
    return "CPU", rss, snap.host.total_bytes


def _gpu_lines(gpu: GpuDevice, width: int) -> list[str]:
    label = f"GPU{gpu.index}"
    if gpu.lost:
        return [f"{label} [$error]✗ LOST[/] {escape(gpu.name)}: fell off the bus; the other devices go on"]
    util = f" util {gpu.utilization_percent}%" if gpu.utilization_percent is not None else ""
    first = gauge_line(label, gpu.used_bytes, gpu.total_bytes, width, util)
    parts = [escape(gpu.name)]
    if gpu.run_bytes is not None:
        parts.append(f"this run {nbytes(gpu.run_bytes)}")
    others = [p for p in gpu.processes if not p.is_run]
    if gpu.other_bytes is not None:
        parts.append(f"others {nbytes(gpu.other_bytes)}" + (f" ({len(others)} proc)" if others else ""))
    if gpu.attribution not in ("pid", "none"):
        parts.append(f"by {gpu.attribution}")
    if gpu.problem:
        parts.append(f"[$warning]! {escape(gpu.problem)}[/]")
    return [first, "  " + " · ".join(parts)]
