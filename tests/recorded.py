"""Recorded runs for the screen, the fakes the snapshot and hand-off tests feed
it: real notices, events and snapshots, fed through the app's own handlers with
no process behind them, so snapshots are stable.

The events are real protocol lines decoded by `trainer.protocol.decode`; the
notices are the supervisor's own dataclasses; the verdicts come from the real
diagnosis where it applies. Times are fixed (the app's clock is frozen).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from trainer.config import RunConfig
from trainer.protocol import Event, decode, encode
from tui.diagnosis import diagnose
from tui.session.recovery import Recovery
from tui.supervision.attempt import AttemptEnded, AttemptInfo, AttemptStarted, EventBatch
from tui.telemetry.snapshot import GpuDevice, GpuProcess, HostMemory, Snapshot, TrainerUsage
from tui.ui.app import MemtuiApp

T0 = 1_700_000_000.0
GIB = 1 << 30
MIB = 1 << 20
CONFIG = RunConfig(image_size=64, batch_size=64, epochs=3, steps_per_epoch=40)


def event(type_: str, t: float | None = None, **fields: object) -> Event:
    """A decoded protocol event; written at `t` (default: the run's start) so screens are stable."""
    ev = decode(encode(type_, **fields))
    assert isinstance(ev, Event), ev
    stamp = T0 - 95.0 if t is None else t
    return replace(ev, t=stamp, raw={**ev.raw, "t": stamp})


def steps(epoch: int, first: int, last: int, per_epoch: int = 40, peak: int = 3 * GIB) -> tuple[Event, ...]:
    """Steps one second apart from five seconds after the start, memory climbing to `peak`."""
    return tuple(
        event("step", t=T0 - 90.0 + (epoch - 1) * per_epoch + s, epoch=epoch, step=s, steps_in_epoch=per_epoch,
              loss=round(2.3 - 0.01 * s, 4), accuracy=round(0.1 + 0.005 * s, 4), batch_size=64,
              step_seconds=0.125, examples_per_second=512.0,
              memory={"current": peak - 200 * MIB - (40 - s) * 8 * MIB, "peak": peak})
        for s in range(first, last + 1)
    )


def gpu_snapshot(used: int, run: int, t: float = T0) -> Snapshot:
    other = used - run
    gpu = GpuDevice(
        index=0, name="NVIDIA A10G", total_bytes=24 * GIB, used_bytes=used, free_bytes=24 * GIB - used,
        reserved_bytes=0, utilization_percent=87, run_bytes=run, other_bytes=other,
        processes=(GpuProcess(4242, "python", "me", run, True), GpuProcess(999, "jupyter", "ana", other, False)),
    )
    host = HostMemory(total_bytes=64 * GIB, available_bytes=40 * GIB, swap_total_bytes=0, swap_used_bytes=0)
    return Snapshot(t=t, gpus=(gpu,), host=host, trainer=TrainerUsage((4242,), 5 * GIB, 98.0), gpu_status="ok")


def cpu_snapshot(t: float = T0) -> Snapshot:
    host = HostMemory(total_bytes=16 * GIB, available_bytes=9 * GIB, swap_total_bytes=2 * GIB, swap_used_bytes=0)
    return Snapshot(t=t, gpus=(), host=host, trainer=TrainerUsage((4242,), int(1.4 * GIB), 190.0),
                    gpu_status="no-driver", gpu_message="no NVIDIA driver found")


def info(number: int, state: str, config: RunConfig = CONFIG, **changes: object) -> AttemptInfo:
    base = AttemptInfo(number=number, run_id=f"20231114-221320-a{number:03d}", run_dir=Path("/nonexistent"),
                       config=config, reason="first launch" if number == 1 else "halve the batch 64 → 32",
                       state=state, started=T0 - 95.0)
    return replace(base, **changes)  # type: ignore[arg-type]


OOM_MESSAGE = ("OOM when allocating tensor with shape[64,128,128,128] and type float "
               "on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc")
OOM_EVENTS = (
    event("oom", t=T0 - 3.0, kind="device", message=OOM_MESSAGE, shape="[64,128,128,128]", dtype="float",
          device="GPU:0", allocator="GPU_0_bfc", requested_bytes=64 * 128 * 128 * 128 * 4),
    event("run_end", t=T0 - 3.0, status="oom", steps=75, peak_memory=3 * GIB),
)
# The verdict the real diagnosis gives for this ending, another process holding 6 GiB at launch.
OOM_VERDICT = diagnose(
    exit_code=3,
    log_tail=f"tensorflow.python.framework.errors_impl.ResourceExhaustedError: {OOM_MESSAGE}\n",
    events=steps(1, 1, 40) + steps(2, 1, 35) + OOM_EVENTS, config=CONFIG, baseline=gpu_snapshot(6 * GIB, 0),
)


def make_app(size_gpu: bool = True, recovery: bool = False) -> MemtuiApp:
    return MemtuiApp(CONFIG, live=False, clock=lambda: T0, recovery=Recovery(recovery) if recovery else None)


def feed_training(app: MemtuiApp, gpu: bool = True) -> None:
    """Attempt 1, epoch 2 of 3, 35 steps in; memory samples rising."""
    app.handle_notice(AttemptStarted(info(1, "starting")))
    for i in range(30):
        t = T0 - 95.0 + i * 3
        app.feed_snapshot(gpu_snapshot(int((6 + i * 0.5) * GIB), int(i * 0.5 * GIB), t) if gpu else cpu_snapshot(t))
    first = (event("run_start", config=CONFIG.to_dict(), params=3_453_130, devices=[{"name": "GPU:0"}],
                   tf_version="2.21.0", keras_version="3.15.0", memory_growth=False, dataset={}),)
    epoch_end = (event("epoch", t=T0 - 50.0, epoch=1,
                       metrics={"loss": 1.9, "accuracy": 0.3, "val_loss": 2.05, "val_accuracy": 0.26}),)
    batch = first + steps(1, 1, 40) + epoch_end + steps(2, 1, 35)
    app.handle_notice(EventBatch(info(1, "training", steps=75, epoch=2, peak_memory=3 * GIB, steps_per_second=8.0),
                                 batch, 0))


def feed_oom(app: MemtuiApp) -> None:
    feed_training(app)
    ended = info(1, "oom", steps=75, epoch=2, peak_memory=3 * GIB, steps_per_second=8.0, ended=T0 - 3.0,
                 exit_code=3, verdict=OOM_VERDICT)
    app.handle_notice(EventBatch(ended, OOM_EVENTS, 0))
    app.handle_notice(AttemptEnded(ended, OOM_VERDICT))


HALF = CONFIG.replace(batch_size=32)


def feed_recovery(app: MemtuiApp) -> None:
    """The out-of-memory ending, then attempt 2 at half the batch, 30 steps in."""
    feed_oom(app)
    start = T0 - 2.0
    app.handle_notice(AttemptStarted(info(2, "starting", HALF, started=start)))
    for i in range(12):
        app.feed_snapshot(gpu_snapshot(int((6 + 2 + i * 0.2) * GIB), int((2 + i * 0.2) * GIB), start + 1 + i * 3))
    batch = tuple(
        event("step", t=start + 3 + s, epoch=1, step=s, steps_in_epoch=40, loss=round(2.2 - 0.012 * s, 4),
              accuracy=round(0.12 + 0.006 * s, 4), batch_size=32, step_seconds=0.07, examples_per_second=457.0,
              memory={"current": 1400 * MIB + s * 4 * MIB, "peak": 1600 * MIB + s * 4 * MIB})
        for s in range(1, 31)
    )
    app.handle_notice(EventBatch(info(2, "training", HALF, started=start, steps=30, epoch=1,
                                      peak_memory=1720 * MIB, steps_per_second=14.0), batch, 0))
