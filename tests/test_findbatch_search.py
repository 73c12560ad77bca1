"""The batch search on its own: a predicate stands in for "does this batch fit?"."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui.session.findbatch import BatchSearch, max_probes, search, with_margin


@given(max_batch=st.integers(1, 1 << 16), data=st.data())
def test_a_monotone_limit_is_found_exactly_within_the_probe_bound(max_batch: int, data: st.DataObject) -> None:
    limit = data.draw(st.integers(0, max_batch), label="largest batch that fits")
    calls: list[int] = []

    def fits(batch: int) -> bool:
        calls.append(batch)
        return batch <= limit

    state = search(fits, max_batch)

    assert state.largest == (limit or None)
    assert len(calls) <= math.ceil(math.log2(max_batch)) + 2
    assert len(calls) == len(set(calls)), "no batch is probed twice"
    assert all(1 <= b <= max_batch for b in calls)


@given(max_batch=st.integers(1, 4096), answers=st.lists(st.booleans(), min_size=20, max_size=20))
def test_the_probe_bound_holds_even_when_memory_is_not_monotone(max_batch: int, answers: list[bool]) -> None:
    it = iter(answers)
    state = search(lambda _batch: next(it), max_batch)

    assert len(state.probes) <= max_probes(max_batch)
    # The answer is always a batch that was seen to fit (or nothing).
    fitted = {b for b, ok in state.probes if ok}
    assert state.largest is None or state.largest in fitted


def test_the_first_probe_is_the_middle_and_the_search_narrows_on_each_answer() -> None:
    state = BatchSearch(100)
    assert state.next_batch() == 50
    state.record(50, True)
    assert state.next_batch() == 75
    state.record(75, False)
    assert state.next_batch() == 62
    assert state.probes_left() == 5  # the gap 50..75 takes at most ceil(log2(25)) probes


def test_when_even_batch_1_runs_out_of_memory_there_is_no_answer() -> None:
    state = search(lambda _batch: False, 64)
    assert state.largest is None
    assert state.probes[-1] == (1, False)


def test_a_max_batch_that_fits_is_the_answer() -> None:
    assert search(lambda _batch: True, 64).largest == 64


@pytest.mark.parametrize(
    ("batch", "margin", "expected"),
    [(100, 0.9, 90), (37, 0.9, 33), (1, 0.9, 1), (3, 0.1, 1), (64, 1.0, 64)],
)
def test_the_margin_floors_to_a_whole_batch_of_at_least_one(batch: int, margin: float, expected: int) -> None:
    assert with_margin(batch, margin) == expected


def test_a_search_needs_a_positive_maximum() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BatchSearch(0)


@given(max_batch=st.integers(1, 1 << 14), multiple_of=st.sampled_from([1, 2, 8, 32, 128]), data=st.data())
def test_searching_in_multiples_finds_the_largest_multiple_that_fits(
    max_batch: int, multiple_of: int, data: st.DataObject
) -> None:
    max_batch = max(max_batch, multiple_of)
    limit = data.draw(st.integers(0, max_batch), label="largest batch that fits")

    state = search(lambda b: b <= limit, max_batch, multiple_of)

    expected = limit // multiple_of * multiple_of
    assert state.largest == (expected or None)
    assert all(b % multiple_of == 0 for b, _ in state.probes)
    assert len(state.probes) <= max_probes(max_batch)


def test_the_margin_keeps_a_multiple() -> None:
    assert with_margin(96, 0.9, 8) == 80
    assert with_margin(8, 0.9, 8) == 8
