"""The pre-flight check before a launch: will this config fit?

Puts together the analytic estimate (`tui.kinds.estimate`), the memory free right
now (a telemetry snapshot) and, once runs of the same model shape exist, a fit
through their measured peaks. The screen, headless mode and `find-batch` show
the same lines. No Textual, no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainer.config import ConfigError, RunConfig, training_image_size
from tui.common.units import format_bytes
from tui.kinds import kind_of
from tui.kinds.estimate import Estimate, Fit, calibrate, describe, estimate
from tui.runs.folder import RunDir
from tui.runs.store import RunStore, RunStoreError
from tui.telemetry.snapshot import Snapshot

# Newest runs read for calibration; each costs a config read and an events tail.
CALIBRATION_RUNS = 40


@dataclass(frozen=True)
class Preflight:
    estimate: Estimate
    fit: Fit | None
    free_bytes: int | None
    where: str  # "GPU0" or "host memory"
    lines: tuple[str, ...]
    warning: str | None  # a plain sentence when the run is predicted not to fit

    @property
    def predicted(self) -> int:
        return self.estimate.peak_bytes

    @property
    def calibrated(self) -> int | None:
        return self.fit.predict(self.estimate.batch_size) if self.fit is not None else None


def free_memory(snapshot: Snapshot | None) -> tuple[int | None, str]:
    """Where the run's memory comes from: the tightest GPU, else host RAM."""
    if snapshot is None:
        return None, "the device"
    gpus = [g for g in snapshot.gpus if not g.lost]
    if gpus:
        tight = min(gpus, key=lambda g: g.free_bytes)
        return tight.free_bytes, f"GPU{tight.index}"
    return snapshot.host.available_bytes, "host memory"


def _same_shape(a: RunConfig, b: RunConfig) -> bool:
    """Runs whose peak grows the same way with the batch (a user's own script is
    like nothing else: its model is not the config's; and on the same backend:
    XLA's CPU client on JAX holds a whole step's buffers at once)."""
    if not (kind_of(a).estimate and kind_of(b).estimate):
        return False
    return (a.model, a.image_size, a.mixed_precision, a.grad_accum > 1, a.data, a.backend) == (
        b.model, b.image_size, b.mixed_precision, b.grad_accum > 1, b.data, b.backend
    )


def measured_peaks(store: RunStore | None, cfg: RunConfig) -> list[tuple[int, int]]:
    """(batch, peak bytes) of earlier runs of the same shape that did not run
    out of memory (an OOM's last reading is below what it wanted)."""
    if store is None:
        return []
    try:
        runs = store.run_dirs()[:CALIBRATION_RUNS]
    except RunStoreError:
        return []
    points: list[tuple[int, int]] = []
    for run in runs:
        points.extend(_point(run, cfg))
    return points


def _point(run: RunDir, cfg: RunConfig) -> list[tuple[int, int]]:
    try:
        other = run.effective_config()
    except (ConfigError, OSError):
        return []
    if not _same_shape(other, cfg):
        return []
    # Only the file's tail is read: a long run's events can be large.
    end = run.ending()
    if end is None or end.status not in ("finished", "stopped") or not end.peak_memory or not end.steps:
        return []
    return [(other.batch_size, int(end.peak_memory))]


def preflight(cfg: RunConfig, snapshot: Snapshot | None = None, store: RunStore | None = None) -> Preflight:
    if snapshot is not None:
        cfg = cfg.replace(image_size=training_image_size(cfg, has_gpu=bool(snapshot.gpus)))
    est = estimate(cfg)
    points = measured_peaks(store, cfg)
    fit: Fit | None = None
    if len({b for b, _ in points}) >= 2:
        fit = calibrate(points)
    free, where = free_memory(snapshot)
    if where == "host memory" and cfg.host_memory_limit and free is not None:
        # The trainer cannot use more than its own limit, whatever the host has.
        free, where = min(free, cfg.host_memory_limit * 2**20), "host memory (the trainer's limit)"
    lines = describe(est, fit, None)
    # The calibrated figure, when there is one, is the better guess to warn on.
    warn = est.warning(free, where) if fit is None else _fit_warning(est, fit, free, where)
    if warn:
        lines.append(warn)
    return Preflight(estimate=est, fit=fit, free_bytes=free, where=where, lines=tuple(lines), warning=warn)


def _fit_warning(est: Estimate, fit: Fit, free: int | None, where: str) -> str | None:
    peak = fit.predict(est.batch_size)
    if free is None or peak <= free:
        return None
    room = (free - fit.intercept) / fit.slope if fit.slope > 0 else 0
    hint = f"; the largest batch predicted to fit is {int(room)}" if room >= 1 else ""
    return (f"Predicted peak {format_bytes(peak, spaced=True)} at batch {est.batch_size} (calibrated) will not fit "
            f"in the {format_bytes(free, spaced=True)} free on {where}{hint}.")


def to_meta(p: Preflight) -> dict[str, object]:
    """The pre-flight as stored in RUN/meta.json, so listings can show it beside the measured peak."""
    return {"predicted_bytes": p.predicted, "calibrated_bytes": p.calibrated, "free_bytes": p.free_bytes,
            "where": p.where, "warning": p.warning}


def record(run_dir: Path, p: Preflight) -> str | None:
    """Store the pre-flight with the run; a problem comes back in words (the run goes on)."""
    try:
        RunDir(run_dir).update_meta(preflight=to_meta(p))
    except OSError as exc:
        return f"could not store the estimate in {run_dir}: {exc.strerror}"
    return None


def one_line(p: Preflight) -> str:
    """`estimate: peak ≈ 1.3 GiB at batch 64 (calibrated 1.9 GiB from 3 runs) · 21.0 GiB free on GPU0`."""
    est = p.estimate
    text = f"estimate: peak ≈ {format_bytes(p.predicted, spaced=True)} at batch {est.batch_size}"
    if p.fit is not None and p.calibrated is not None:
        text += f" (calibrated {format_bytes(p.calibrated, spaced=True)} from {p.fit.points} runs)"
    if p.free_bytes is not None:
        text += f" · {format_bytes(p.free_bytes, spaced=True)} free on {p.where}"
    return text
