"""The recovery policy on its own: attempts and verdicts in, the next config out.

AttemptInfo and Verdict are plain values here (the supervisor and the diagnosis
make the same ones); no process runs.
"""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from trainer.config import RunConfig
from tui.common.verdict import DEVICE_OOM, FINISHED, HOST_OOM, NOT_OOM, Verdict
from tui.session.recovery import Recovery
from tui.supervision.attempt import AttemptInfo

OOM = Verdict(DEVICE_OOM, "Training ran out of GPU memory.")


def attempt(number: int, config: RunConfig) -> AttemptInfo:
    return AttemptInfo(number=number, run_id=f"run-{number}", run_dir=Path(f"/runs/run-{number}"), config=config,
                       reason="test", state="oom", started=0.0)


def climb(recovery: Recovery, config: RunConfig, verdict: Verdict = OOM) -> list[RunConfig]:
    """Feed OOM endings until the policy stops; the configs it chose, in order."""
    chosen = [config]
    while (change := recovery.on_end(attempt(len(chosen), chosen[-1]), verdict)) is not None:
        chosen.append(change.config)
        assert len(chosen) < 1000, "the policy looped"
    return chosen


def test_only_an_out_of_memory_ending_is_retried() -> None:
    recovery = Recovery(True)
    cfg = RunConfig(batch_size=32)
    assert recovery.on_end(attempt(1, cfg), Verdict(FINISHED, "Training finished.")) is None
    assert recovery.on_end(attempt(2, cfg), Verdict(NOT_OOM, "ZeroDivisionError")) is None
    assert recovery.steps == [] and recovery.gave_up is None


def test_when_disabled_nothing_is_chosen_and_enabling_it_mid_chain_works() -> None:
    recovery = Recovery(False)
    cfg = RunConfig(batch_size=32)
    assert recovery.on_end(attempt(1, cfg), OOM) is None
    recovery.enabled = True  # the screen's key
    change = recovery.on_end(attempt(2, cfg), OOM)
    assert change is not None and change.config.memory_growth


def test_a_host_oom_skips_memory_growth_which_only_helps_a_gpu() -> None:
    change = Recovery(True).on_end(attempt(1, RunConfig(batch_size=32)), Verdict(HOST_OOM, "out of RAM"))
    assert change is not None
    assert (change.config.batch_size, change.config.grad_accum, change.config.memory_growth) == (16, 2, False)


def test_each_step_is_recorded_with_its_reason_and_the_backup_folder_stays() -> None:
    recovery = Recovery(True)
    cfg = RunConfig(batch_size=8, model="large", backup_dir="/runs/backups/s1")
    chosen = climb(recovery, cfg)

    assert [s.rung for s in recovery.steps] == [
        "memory-growth", "halve-batch-accum", "mixed-precision", "small-model", "halve-batch", "halve-batch",
    ]
    assert [c.batch_size for c in chosen] == [8, 8, 4, 4, 4, 2, 1]
    assert all(s.reason for s in recovery.steps)
    assert {c.backup_dir for c in chosen} == {"/runs/backups/s1"}
    assert recovery.gave_up == (
        "Gave up after 7 attempts: the batch is at --min-batch 1 and every remedy on the ladder was tried."
    )


def test_halving_stops_at_the_minimum_batch_and_the_sentence_says_where_it_stands() -> None:
    recovery = Recovery(True, min_batch=4)
    chosen = climb(recovery, RunConfig(batch_size=6, memory_growth=True, mixed_precision=True))
    assert chosen[-1].batch_size == 4
    assert "the batch is at --min-batch 4" in str(recovery.gave_up)

    below = Recovery(True, min_batch=4)
    climb(below, RunConfig(batch_size=2, memory_growth=True, mixed_precision=True))
    assert "the batch is 2, already below --min-batch 4" in str(below.gave_up)


def test_reset_starts_a_new_chain() -> None:
    recovery = Recovery(True, max_attempts=1)
    cfg = RunConfig(batch_size=32)
    assert recovery.on_end(attempt(1, cfg), OOM) is None
    assert recovery.gave_up is not None and "--max-attempts 1" in recovery.gave_up
    recovery.reset()
    assert recovery.gave_up is None
    assert recovery.max_attempts == 1 and recovery.on_end(attempt(2, cfg), OOM) is None


@given(
    batch=st.integers(1, 4096),
    accum=st.sampled_from([1, 2, 4]),
    model=st.sampled_from(["small", "large"]),
    growth=st.booleans(),
    precision=st.booleans(),
    min_batch=st.integers(1, 64),
    max_attempts=st.integers(1, 30),
)
def test_nothing_loops_whatever_the_start(
    batch: int, accum: int, model: str, growth: bool, precision: bool, min_batch: int, max_attempts: int
) -> None:
    recovery = Recovery(True, min_batch=min_batch, max_attempts=max_attempts)
    start = RunConfig(batch_size=batch, grad_accum=accum, model=model, memory_growth=growth,
                      mixed_precision=precision)

    chosen = climb(recovery, start)

    assert len(chosen) <= max_attempts
    # Four one-off rungs, then halvings: a bounded climb.
    assert len(chosen) <= 1 + 4 + max(0, math.ceil(math.log2(batch)))
    keys = [c.replace(backup_dir=None) for c in chosen]
    assert len(keys) == len(set(keys)), "no config is launched twice"
    assert all(c.batch_size >= min(min_batch, batch) for c in chosen)
    assert recovery.gave_up is not None and recovery.gave_up.startswith(f"Gave up after {len(chosen)} attempt")
