"""The sampler thread: fixed interval, bounded history, a refused interval, a GPU lost while it runs."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

import pytest

from tests.fakegpu import GIB, fake_gpu, two_gpus
from tests.waiting import wait_until
from trainer.config import ConfigError, OneLineParser
from tui.cli.options import add_interval_option
from tui.telemetry.sampler import Sampler, check_interval, read_once
from tui.telemetry.snapshot import Snapshot


@pytest.mark.parametrize("too_short", [0.1, 0, -1])
def test_an_interval_below_a_quarter_second_is_refused_with_the_fix(too_short: float) -> None:
    with pytest.raises(ConfigError) as caught:
        Sampler(interval=too_short)
    assert str(caught.value) == f"--interval: {too_short:g} is too short; use 0.25 seconds or more"


def test_the_interval_flag_refuses_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    parser = OneLineParser(prog="memtui run")
    add_interval_option(parser)

    assert parser.parse_args(["--interval", "0.5"]).interval == 0.5
    assert parser.parse_args([]).interval == 1.0
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["--interval", "0.1"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0
    assert "0.1 is too short; use 0.25 seconds or more" in err
    assert check_interval(0.25) == 0.25
    assert isinstance(parser, argparse.ArgumentParser)


def test_history_keeps_only_the_last_history_seconds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gpu(tmp_path, two_gpus(), monkeypatch)
    sampler = Sampler(interval=0.5, history_seconds=2)
    taken = [sampler.sample_now() for _ in range(7)]
    sampler.stop()

    assert sampler.history == tuple(taken[-4:])  # 2 s of history at 0.5 s
    assert sampler.latest is taken[-1]


def test_the_thread_delivers_snapshots_to_the_callback_and_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_gpu(tmp_path, two_gpus(), monkeypatch)
    delivered: list[tuple[Snapshot, str]] = []
    sampler = Sampler(interval=0.25, on_snapshot=lambda s: delivered.append((s, threading.current_thread().name)))
    sampler.start()
    wait_until(lambda: len(delivered) >= 3, what="three snapshots delivered")
    sampler.stop()
    count = len(delivered)

    assert all(name == "memtui-telemetry" for _, name in delivered)  # never the caller's thread
    assert all(len(s.gpus) == 2 for s, _ in delivered)
    assert [s.t for s, _ in delivered] == sorted(s.t for s, _ in delivered)
    assert not any(t.name == "memtui-telemetry" for t in threading.enumerate())
    assert len(delivered) == count


def test_a_gpu_lost_while_sampling_is_marked_and_sampling_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gpu = fake_gpu(tmp_path, two_gpus(), monkeypatch)
    sampler = Sampler(interval=0.25)
    sampler.start()
    wait_until(lambda: sampler.latest is not None, what="a first snapshot")
    gpu.update(lost=1)
    sampler.wake()
    wait_until(lambda: sampler.latest is not None and sampler.latest.gpus[1].lost, what="GPU 1 lost")
    gpu.scenario["gpus"][0]["used"] = 20 * GIB
    gpu.write(gpu.scenario)
    wait_until(lambda: sampler.latest is not None and sampler.latest.gpus[0].used_bytes == 20 * GIB,
               what="GPU 0's new figure")
    sampler.stop()

    latest = sampler.latest
    assert latest is not None and latest.gpus[1].lost and not latest.gpus[0].lost


def test_a_baseline_is_taken_in_the_callers_thread_and_kept_in_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_gpu(tmp_path, two_gpus(), monkeypatch)
    sampler = Sampler()
    baseline = sampler.take_baseline()
    sampler.stop()

    assert sampler.latest is baseline and baseline.gpus[0].used_bytes == 14 * GIB


def test_read_once_on_this_cpu_only_host_names_the_missing_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMTUI_FAKE_NVML", raising=False)
    snapshot = read_once()

    assert snapshot.gpus == ()
    assert snapshot.gpu_status == "no-driver"
    assert snapshot.gpu_message


def test_since_hands_over_each_stored_snapshot_once_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gpu(tmp_path, two_gpus(), monkeypatch)
    sampler = Sampler(interval=0.5, history_seconds=2)  # keeps 4
    taken = [sampler.sample_now() for _ in range(2)]
    got, count = sampler.since(0)
    assert got == taken and count == 2
    assert sampler.since(count) == ([], 2)  # nothing new: nothing again

    more = [sampler.sample_now() for _ in range(6)]
    got, count = sampler.since(count)
    assert got == more[-4:] and count == 8  # what fell out of the history is gone, the rest in order
    sampler.stop()
