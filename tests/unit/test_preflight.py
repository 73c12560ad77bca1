"""The pre-flight check: predicted peak, memory free now, calibration from
earlier runs of the same model shape, and a plain warning when it won't fit."""

from __future__ import annotations

import json
from pathlib import Path

from trainer.config import RunConfig
from trainer.protocol import encode
from tui.runs.store import RunStore
from tui.session.preflight import measured_peaks, one_line, preflight
from tui.telemetry.snapshot import GpuDevice, HostMemory, Snapshot

GIB = 2**30
HOST = HostMemory(total_bytes=24 * GIB, available_bytes=20 * GIB, swap_total_bytes=0, swap_used_bytes=0)


def gpu(free: int, total: int = 24 * GIB, index: int = 0) -> GpuDevice:
    return GpuDevice(index=index, name="NVIDIA A10G", total_bytes=total, used_bytes=total - free, free_bytes=free,
                     reserved_bytes=0, utilization_percent=0, run_bytes=None, other_bytes=None)


def snapshot(*gpus: GpuDevice) -> Snapshot:
    return Snapshot(t=0.0, gpus=gpus, host=HOST, trainer=None, gpu_status="ok" if gpus else "no-driver")


def stored_run(store: RunStore, cfg: RunConfig, peak: int, status: str = "finished", n: int = 1) -> None:
    run = store.new_run(cfg, session="s", attempt=n, reason="test", trainer_module="trainer")
    lines = [encode("run_end", status=status, steps=10, peak_memory=peak)]
    run.events_path.write_text("\n".join(lines) + "\n")
    (run.path / "exit.json").write_text(json.dumps({"returncode": 0 if status == "finished" else 3,
                                                    "signal": None, "ended": 1.0}))


def test_a_config_that_fits_gets_no_warning_and_names_where_memory_comes_from() -> None:
    p = preflight(RunConfig(data="/d", image_size=64, batch_size=32), snapshot(gpu(20 * GIB)))
    assert p.warning is None
    assert p.where == "GPU0" and p.free_bytes == 20 * GIB
    assert p.estimate.params == 549_290  # the small CNN at 64 px, 10 classes
    assert one_line(p).startswith("estimate: peak ≈ ") and "free on GPU0" in one_line(p)


def test_a_batch_too_large_for_the_tightest_gpu_is_warned_about_in_words() -> None:
    p = preflight(RunConfig(data="/d", image_size=256, batch_size=4096), snapshot(gpu(20 * GIB), gpu(2 * GIB, index=1)))
    assert p.where == "GPU1"
    assert p.warning is not None
    assert p.warning.startswith("Predicted peak") and "will not fit" in p.warning
    assert "largest batch predicted to fit is" in p.warning
    assert p.lines[-1] == p.warning


def test_the_demo_on_a_cpu_only_host_is_estimated_at_the_size_it_will_train_at() -> None:
    cpu = preflight(RunConfig(), snapshot())
    gpu_host = preflight(RunConfig(), snapshot(gpu(20 * GIB)))
    assert cpu.estimate.image_size == 64 and cpu.where == "host memory"
    assert gpu_host.estimate.image_size == 256


def test_measured_peaks_of_the_same_shape_calibrate_the_prediction(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    shape = RunConfig(data="/d", image_size=64)
    stored_run(store, shape.replace(batch_size=16), peak=700 * 2**20, n=1)
    stored_run(store, shape.replace(batch_size=32), peak=800 * 2**20, n=2)
    stored_run(store, shape.replace(batch_size=64), peak=900 * 2**20, status="oom", n=3)  # an OOM's peak is too low
    stored_run(store, shape.replace(batch_size=8, model="large"), peak=5 * GIB, n=4)  # another model

    assert sorted(measured_peaks(store, shape.replace(batch_size=128))) == [(16, 700 * 2**20), (32, 800 * 2**20)]
    p = preflight(shape.replace(batch_size=48), snapshot(gpu(20 * GIB)), store)
    assert p.fit is not None and p.fit.points == 2
    assert p.calibrated == 900 * 2**20  # on the line through the two measured runs
    assert any(line.startswith("calibrated from 2 measured runs") for line in p.lines)


def test_the_calibrated_figure_is_the_one_warned_on(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    shape = RunConfig(data="/d", image_size=64)
    stored_run(store, shape.replace(batch_size=16), peak=3 * GIB, n=1)
    stored_run(store, shape.replace(batch_size=32), peak=4 * GIB, n=2)
    # The analytic estimate for batch 64 is well under 1 GiB; the measured runs say ~6 GiB.
    p = preflight(shape.replace(batch_size=64), snapshot(gpu(5 * GIB)), store)
    assert p.predicted < GIB
    assert p.warning is not None and "(calibrated)" in p.warning


def test_on_a_cpu_host_the_trainers_own_memory_limit_is_the_room_it_has() -> None:
    p = preflight(RunConfig(data="/d", image_size=64, batch_size=4096, host_memory_limit=3072), snapshot())
    assert p.free_bytes == 3072 * 2**20 and "limit" in p.where
    assert p.warning is not None and "will not fit" in p.warning
