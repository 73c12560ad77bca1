"""Fuzzing (issue 7): the protocol reader and the diagnosis never raise."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainer.protocol import Event, Garbage, decode, encode
from tui.common.verdict import (
    ASYNC_OOM,
    DEVICE_OOM,
    FINISHED,
    HOST_OOM,
    KILLED,
    LIBRARY_ERROR,
    MASKED_OOM,
    NOT_OOM,
    OTHER_PROCESSES,
    PROBABLE_OOM,
    STOPPED,
    XLA_OOM,
    Verdict,
)
from tui.diagnosis import diagnose

KINDS = {LIBRARY_ERROR, DEVICE_OOM, XLA_OOM, ASYNC_OOM, MASKED_OOM, PROBABLE_OOM, HOST_OOM, OTHER_PROCESSES, NOT_OOM,
         STOPPED,
         FINISHED, KILLED}

# Fragments of real messages, so generated logs reach the interesting branches.
FRAGMENTS = [
    "OOM when allocating tensor with shape[", "] and type float on /job:localhost/replica:0/task:0/device:GPU:0",
    " by allocator GPU_0_bfc", " by allocator cpu", "gpu_async_0", "Allocator (GPU_0_bfc) ran out of memory "
    "trying to allocate 2.00GiB (rounded to ", "with freed_by_count=0", "Dst tensor is not initialized.",
    "cuMemAllocAsync failed to allocate ", " bytes", "RESOURCE_EXHAUSTED: Out of memory while trying to allocate ",
    "Out of host memory while trying to allocate ", "std::bad_alloc", "Traceback (most recent call last):",
    "ValueError: ", "KeyboardInterrupt", "Killed", "Check failed: ", "CUDNN_STATUS_INTERNAL_ERROR",
    "from device: CUDA_ERROR_OUT_OF_MEMORY", "exceeds 10% of free system memory", "\n", "\x00", "[", "]", ",",
    "99999999999999999999", "-1", "MemoryError", "Thread x creation via pthread_create() failed",
]
log_texts = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20), st.integers().map(str)),
             max_size=40).map("".join),
)
exit_codes = st.one_of(st.none(), st.integers(min_value=-300, max_value=300), st.integers())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
event_types = st.sampled_from(["run_start", "step", "epoch", "oom", "error", "run_end", "other"])


@st.composite
def event_lines(draw: st.DrawFn) -> str:
    """Protocol-shaped objects with random fields: valid, near-valid and wrong."""
    obj = draw(st.dictionaries(st.text(max_size=12), json_values, max_size=8))
    obj.setdefault("v", draw(st.sampled_from([1, 1, 2, "1", None])))
    obj.setdefault("type", draw(event_types))
    obj.setdefault("t", draw(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=3))))
    return json.dumps(obj)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), st.binary(), event_lines(), event_lines().map(lambda s: s[: len(s) // 2])))
def test_decode_never_raises(line: str | bytes) -> None:
    assert isinstance(decode(line), (Event, Garbage))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=log_texts, exit_code=exit_codes, lines=st.lists(event_lines(), max_size=6),
       peak=st.one_of(st.none(), st.integers(min_value=-1, max_value=1 << 40)))
def test_diagnose_never_raises_and_gives_a_known_kind(log: str, exit_code: int | None, lines: list[str],
                                                      peak: int | None) -> None:
    events = [e for e in map(decode, lines) if isinstance(e, Event)]
    verdict = diagnose(exit_code=exit_code, log_tail=log, events=events, peak_rss=peak, host_total=16 << 30)
    assert isinstance(verdict, Verdict)
    assert verdict.kind in KINDS
    assert verdict.summary
    assert len(verdict.evidence) <= 5


def test_valid_events_round_trip_through_the_fuzzed_reader() -> None:
    line = encode("oom", kind="device", message="OOM when allocating tensor")
    assert isinstance(decode(line), Event)
