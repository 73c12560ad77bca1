"""The batch search on its own: a predicate stands in for "does this batch fit?".

The search grows from the current batch by doubling, then bisects between the
last fit and the first failure; a bound that fits ends it at once.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainer.config import RunConfig
from tui.session.batchsearch import MIN_STEPS_PER_EPOCH, BatchSearch, data_bound, max_probes, probe_bound, search
from tui.session.findbatch import (
    new_search,
    training_examples,
    with_margin,
)


def log2c(x: float) -> int:
    return math.ceil(math.log2(x)) if x > 1 else 0


def test_the_probe_bound_holds_for_every_hidden_limit_and_start() -> None:
    """Exhaustive over hidden limits 0..hi for several starts and bounds: the answer
    is exact and the probes stay within ceil(log2(hi/lo)) + ceil(log2(gap)) + 1."""
    checked = 0
    for hi in (1, 2, 3, 7, 64, 100, 150, 1000, 1024):
        for start in sorted({1, 2, 3, 16, 32, 33, hi // 2 or 1, hi}):
            start = min(start, hi)
            for limit in range(0, hi + 2):
                calls: list[int] = []

                def fits(batch: int, limit: int = limit, calls: list[int] = calls) -> bool:
                    calls.append(batch)
                    return batch <= limit

                state = search(fits, hi, start=start)
                assert state.largest == (min(limit, hi) or None), (hi, start, limit)
                assert len(calls) == len(set(calls)), "no batch is probed twice"
                assert all(1 <= b <= hi for b in calls)
                # The gap the growing phase left, computed here from the limit, not from the search.
                if limit >= start:
                    lo_, hi_ = start, hi
                    top = min(limit, hi)
                    f = start
                    while f * 2 <= top:
                        f *= 2
                    k = min(2 * f, hi)  # the probe after the last doubling that fitted
                    gap = 0 if f == hi or k <= top else k - f
                else:
                    lo_, hi_ = 1, start
                    o = start
                    while o // 2 > limit and o > 1:
                        o //= 2
                    gap = o - o // 2 if o > 1 else 0
                assert len(calls) <= log2c(hi_ / lo_) + log2c(gap) + 1, (hi, start, limit, calls)
                assert len(calls) <= state.bound() <= max_probes(hi, start)
                checked += 1
    assert checked > 5000


@given(hi=st.integers(1, 1 << 16), data=st.data())
def test_a_monotone_limit_is_found_exactly_within_the_probe_bound(hi: int, data: st.DataObject) -> None:
    start = data.draw(st.integers(1, hi), label="current batch")
    limit = data.draw(st.integers(0, hi), label="largest batch that fits")
    calls: list[int] = []

    def fits(batch: int) -> bool:
        calls.append(batch)
        return batch <= limit

    state = search(fits, hi, start=start)

    assert state.largest == (limit or None)
    assert len(calls) <= state.bound() <= max_probes(hi, start)
    assert len(calls) == len(set(calls))


@given(hi=st.integers(1, 4096), answers=st.lists(st.booleans(), min_size=40, max_size=40), data=st.data())
def test_the_probe_bound_holds_even_when_memory_is_not_monotone(hi: int, answers: list[bool],
                                                                data: st.DataObject) -> None:
    start = data.draw(st.integers(1, hi))
    it = iter(answers)
    state = search(lambda _batch: next(it), hi, start=start)

    assert len(state.probes) <= state.bound() <= max_probes(hi, start)
    fitted = {b for b, ok in state.probes if ok}
    assert state.largest is None or state.largest in fitted


def test_it_grows_from_the_current_batch_then_bisects() -> None:
    state = BatchSearch(1024, start=32)
    seen = []
    while (b := state.next_batch()) is not None:
        seen.append(b)
        state.record(b, b <= 300)
    assert seen[:4] == [32, 64, 128, 256]
    assert seen[4] == 512  # the first failure
    assert state.largest == 300 and state.limited_by == "memory"
    assert state.brackets[3] == (257, 1024) and state.brackets[4] == (257, 511)


def test_a_bound_that_fits_ends_the_search_at_once() -> None:
    state = search(lambda _b: True, 150, start=150)
    assert state.probes == [(150, True)] and state.limited_by == "bound"
    grown = search(lambda _b: True, 150, start=32)
    assert [b for b, _ in grown.probes] == [32, 64, 128, 150]


def test_a_start_that_does_not_fit_halves_down_then_bisects() -> None:
    state = search(lambda b: b <= 20, 1024, start=256)
    assert [b for b, _ in state.probes][:5] == [256, 128, 64, 32, 16]
    assert state.largest == 20


def test_when_even_batch_1_runs_out_of_memory_there_is_no_answer() -> None:
    state = search(lambda _batch: False, 64, start=8)
    assert state.largest is None
    assert state.probes[-1] == (1, False)


def test_the_data_bounds_the_batch_and_the_answer_says_so() -> None:
    state = search(lambda _b: True, 1024, start=32, data_limit=150)
    assert state.largest == 150 and state.limited_by == "data"
    assert max(b for b, _ in state.probes) == 150


def test_the_demo_bound_is_its_training_set_over_the_minimum_steps() -> None:
    assert training_examples(RunConfig()) == 600
    assert training_examples(RunConfig(validation_split=0.2)) == 480
    assert data_bound(600) == 600 // MIN_STEPS_PER_EPOCH == 150
    state, examples = new_search(RunConfig(batch_size=32))
    assert examples == 600 and state.hi == 150 and state.start == 32


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
    start = data.draw(st.integers(1, max_batch), label="current batch")

    state = search(lambda b: b <= limit, max_batch, multiple_of, start=start)

    expected = limit // multiple_of * multiple_of
    assert state.largest == (expected or None)
    assert all(b % multiple_of == 0 for b, _ in state.probes)
    assert len(state.probes) <= max_probes(max_batch, start, multiple_of)


def test_probe_bound_is_the_formula() -> None:
    assert probe_bound(32, 1024, 256) == 5 + 8 + 1
    assert probe_bound(150, 150, 0) == 1


def test_the_margin_keeps_a_multiple() -> None:
    assert with_margin(96, 0.9, 8) == 80
    assert with_margin(8, 0.9, 8) == 8
