"""The diagnosis as a specification: kinds, details, sentences and ranking."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from trainer.config import RunConfig
from trainer.protocol import Event, decode, encode
from tui.diagnosis import diagnose, signal_of, tail_text
from tui.telemetry.snapshot import GpuDevice, GpuProcess, HostMemory, Snapshot
from tui.ui.widgets.keys import key_for_remedy

GPU_OOM = (
    "tensorflow.python.framework.errors_impl.ResourceExhaustedError: Graph execution error:\n"
    "OOM when allocating tensor with shape[32,256,256,32] and type float on "
    "/job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc\n"
)


def _events(*lines: str) -> list[Event]:
    out = [decode(line) for line in lines]
    assert all(isinstance(e, Event) for e in out)
    return out  # type: ignore[return-value]


def _step(epoch: int, step: int) -> str:
    return encode("step", epoch=epoch, step=step, loss=1.0, batch_size=32, step_seconds=0.1,
                  examples_per_second=320.0, memory={})


def test_a_gpu_oom_during_a_step_names_device_tensor_and_moment() -> None:
    verdict = diagnose(exit_code=1, log_tail=GPU_OOM, events=_events(_step(1, 2)), config=RunConfig(model="large"))
    assert verdict.kind == "device-oom"
    assert verdict.summary == ("Training ran out of GPU memory on GPU:0 allocating a 256.0 MiB tensor of shape "
                               "[32,256,256,32] during step 3 of epoch 1.")
    assert verdict.details == {"shape": "[32,256,256,32]", "dtype": "float", "device": "GPU:0",
                               "allocator": "GPU_0_bfc", "requested_bytes": 32 * 256 * 256 * 32 * 4}
    assert verdict.evidence[0].startswith("OOM when allocating tensor")


def test_an_activation_oom_ranks_batch_then_accumulation_precision_and_the_reduced_cnn() -> None:
    verdict = diagnose(exit_code=1, log_tail=GPU_OOM, events=_events(_step(1, 2)), config=RunConfig(model="large"))
    ids = [r.id for r in verdict.remedies]
    assert ids[:4] == ["halve-batch", "grad-accum", "mixed-precision", "small-model"]
    assert verdict.remedies[0].title == "halve the batch 32 → 16"
    assert [key_for_remedy(r.id) for r in verdict.remedies[:4]] == ["b", "a", "m", "c"]


def test_an_oom_at_start_up_with_growth_off_puts_memory_growth_first() -> None:
    start = encode("run_start", config={}, params=1, devices=[], tf_version="2.21", keras_version="3.15",
                   memory_growth=False, dataset={})
    verdict = diagnose(exit_code=3, log_tail=GPU_OOM, events=_events(start), config=RunConfig())
    assert verdict.remedies[0].id == "memory-growth"
    assert key_for_remedy(verdict.remedies[0].id) == "g"
    assert "at start-up" in verdict.summary


def test_remedies_that_change_nothing_are_not_offered() -> None:
    cfg = RunConfig(model="small", mixed_precision=True, memory_growth=True, batch_size=1, image_size=32)
    ids = [r.id for r in diagnose(exit_code=1, log_tail=GPU_OOM, config=cfg).remedies]
    assert not {"halve-batch", "grad-accum", "mixed-precision", "small-model", "memory-growth", "image-size"} & set(ids)


def test_other_processes_at_launch_are_named_first_with_pid_name_and_size() -> None:
    hog = GpuProcess(4242, "python3", "bob", 12 << 30, False)
    gpu = GpuDevice(0, "A10", 16 << 30, 12 << 30, 4 << 30, 0, 0, None, 12 << 30, (hog,))
    baseline = Snapshot(0.0, (gpu,), HostMemory(64 << 30, 60 << 30, 0, 0), None, "ok")
    verdict = diagnose(exit_code=1, log_tail=GPU_OOM, baseline=baseline, config=RunConfig())
    assert verdict.kind == "other-processes"
    assert "pid 4242 python3 12.0 GiB" in verdict.summary
    assert verdict.remedies[0].id == "other-processes"
    assert "pid 4242 python3" in verdict.remedies[0].title
    assert verdict.details["other_processes"][0]["pid"] == 4242


def test_a_baseline_read_back_from_meta_json_is_accepted_as_a_mapping() -> None:
    hog = GpuProcess(4242, "python3", "bob", 12 << 30, False)
    gpu = GpuDevice(0, "A10", 16 << 30, 12 << 30, 4 << 30, 0, 0, None, 12 << 30, (hog,))
    baseline = dataclasses.asdict(Snapshot(0.0, (gpu,), HostMemory(64 << 30, 60 << 30, 0, 0), None, "ok"))
    assert diagnose(exit_code=1, log_tail=GPU_OOM, baseline=baseline).kind == "other-processes"  # type: ignore[arg-type]
    assert diagnose(exit_code=1, log_tail=GPU_OOM, baseline={"junk": 1}).kind == "device-oom"  # type: ignore[arg-type]


def test_an_idle_gpu_at_launch_keeps_the_device_oom_verdict() -> None:
    gpu = GpuDevice(0, "A10", 16 << 30, 300 << 20, 15 << 30, 0, 0, None, 0, ())
    baseline = Snapshot(0.0, (gpu,), HostMemory(64 << 30, 60 << 30, 0, 0), None, "ok")
    assert diagnose(exit_code=1, log_tail=GPU_OOM, baseline=baseline).kind == "device-oom"


def test_the_trainers_oom_event_is_used_when_the_log_is_empty() -> None:
    oom = encode("oom", kind="host", message="OOM when allocating tensor with shape[512,224,224,16] and type float "
                 "on /job:localhost/replica:0/task:0/device:CPU:0 by allocator cpu", allocator="cpu",
                 requested_bytes=1644167168)
    verdict = diagnose(exit_code=3, log_tail="", events=_events(oom), config=RunConfig(host_memory_limit=4096))
    assert verdict.kind == "host-oom"
    assert verdict.details["requested_bytes"] == 1644167168
    assert "--host-memory-limit of 4096 MB" in verdict.summary
    ids = [r.id for r in verdict.remedies]
    assert ids[:2] == ["halve-batch", "buffers"]
    assert "host-limit" in ids and "memory-growth" not in ids


def test_the_trainers_error_event_gives_a_crash_with_its_exception() -> None:
    err = encode("error", exception="ValueError", message="bad labels")
    verdict = diagnose(exit_code=4, log_tail="", events=_events(err))
    assert verdict.kind == "crash"
    assert verdict.summary == "The trainer crashed with ValueError: bad labels (not an out-of-memory error)."
    assert verdict.remedies == ()


def test_sigkill_is_host_oom_only_when_the_trainers_memory_was_high() -> None:
    high = diagnose(exit_code=-9, log_tail="", peak_rss=20 << 30, host_total=24 << 30, config=RunConfig())
    assert high.kind == "host-oom"
    assert "out-of-memory killer" in high.summary
    assert high.remedies[0].id == "halve-batch"
    low = diagnose(exit_code=137, log_tail="", peak_rss=1 << 30, host_total=24 << 30)
    assert low.kind == "killed"
    assert "signal 9 (SIGKILL)" in low.summary


def test_exit_codes_in_every_convention() -> None:
    assert [signal_of(c) for c in (None, 0, 1, -9, 137, 134, -6, 3)] == [None, None, None, 9, 9, 6, 6, None]
    assert diagnose(exit_code=0, log_tail="").kind == "finished"
    assert diagnose(exit_code=130, log_tail="").kind == "stopped"
    assert diagnose(exit_code=-2, log_tail="").kind == "stopped"
    assert diagnose(exit_code=-11, log_tail="").kind == "killed"
    assert diagnose(exit_code=3, log_tail="").kind == "probable-oom"
    bad = diagnose(exit_code=2, log_tail="trainer: --data: /x does not exist\n")
    assert bad.kind == "crash" and "/x does not exist" in bad.summary


def test_a_run_end_event_decides_when_the_exit_code_is_unknown() -> None:
    end = encode("run_end", status="stopped", steps=7)
    assert diagnose(exit_code=None, log_tail="", events=_events(end)).kind == "stopped"
    end = encode("run_end", status="finished", steps=7)
    assert diagnose(exit_code=None, log_tail="", events=_events(end)).summary == "Training finished after 7 steps."


def test_evidence_is_at_most_five_distinct_lines(tmp_path: Path) -> None:
    log = "\n".join(f"OOM when allocating tensor with shape[{i},8] and type float on GPU:0 by allocator GPU_0_bfc"
                    for i in range(1, 30))
    verdict = diagnose(exit_code=1, log_tail=log)
    assert len(verdict.evidence) == 5
    assert len(set(verdict.evidence)) == 5


def test_tail_text_reads_the_end_from_a_line_start_and_never_raises(tmp_path: Path) -> None:
    path = tmp_path / "trainer.log"
    path.write_bytes(b"first line\n" + b"x" * 100 + b"\nlast \xff line\n")
    assert tail_text(path, max_bytes=30) == "last \ufffd line\n"
    assert tail_text(path).startswith("first line")
    assert tail_text(tmp_path / "missing.log") == ""
    assert tail_text(tmp_path) == ""


def test_a_stop_that_ends_in_sigterm_is_stopped_and_the_same_signal_unasked_is_a_kill() -> None:
    events = _events(_step(1, 3))
    asked = diagnose(exit_code=-15, log_tail="", events=events, stop_asked=True)
    assert asked.kind == "stopped" and asked.summary == "Training was stopped by the user during step 4 of epoch 1."
    unasked = diagnose(exit_code=-15, log_tail="", events=events)
    assert unasked.kind == "killed" and "SIGTERM" in unasked.summary


def test_a_stop_does_not_hide_an_out_of_memory_ending() -> None:
    log = "tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating tensor"
    assert diagnose(exit_code=-15, log_tail=log, stop_asked=True).is_oom
