"""The batch search itself, pure: which batch to probe next and what the answers mean.

The search grows from the current batch by doubling until a probe fails or the
upper bound is reached, then bisects between the last fit and the first
failure. A bound that fits ends the search at once. When the current batch
itself does not fit it halves down to the first fit instead, then bisects.
The upper bound is `--max-batch` and also the data: never more than the
training set holds divided by MIN_STEPS_PER_EPOCH (see `data_bound`).

Its probe bound can be checked on any predicate without TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

# The batch never leaves an epoch fewer than this many steps. With one or two
# steps an epoch is one or two optimizer updates and BatchNorm statistics from
# as many batches: on the demo, a batch of 921 (more than its 600 files) made
# each epoch one step and accuracy after 5 epochs fell from 0.78 to 0.48. Four
# steps keeps a few updates per epoch while still letting a small data set use
# a quarter of itself per step.
MIN_STEPS_PER_EPOCH = 4

LimitedBy = Literal["memory", "data", "bound"]


def _log2_ceil(x: float) -> int:
    return math.ceil(math.log2(x)) if x > 1 else 0


def probe_bound(lo: int, hi: int, gap: int) -> int:
    """The promised ceiling on probes: ceil(log2(hi/lo)) + ceil(log2(gap)) + 1.

    `lo..hi` is the range the growing phase walks (the start up to the bound,
    or 1 up to the start when the start does not fit) and `gap` the distance
    between the last fit and the first failure it leaves (0 or 1: nothing to
    bisect). All in the search's units (multiples of `multiple_of`)."""
    return _log2_ceil(hi / lo) + _log2_ceil(gap) + 1


def max_probes(max_batch: int, start: int = 1, multiple_of: int = 1) -> int:
    """The most probes a search of 1..max_batch from `start` can take, whatever the answers."""
    hi = max_batch // multiple_of
    lo = min(max(1, start // multiple_of), hi)
    # Growing up: the gap left is at most the last fit, which is at most hi/2.
    up = probe_bound(lo, hi, max(1, hi // 2)) if hi > lo else 1
    # Halving down from the start: the gap is at most half the start, rounded up.
    down = probe_bound(1, lo, (lo + 1) // 2) if lo > 1 else 1
    return max(up, down)


def with_margin(batch: int, margin: float, multiple_of: int = 1) -> int:
    """`batch` scaled down by `margin`, floored to a multiple of `multiple_of`,
    never below one multiple."""
    return max(1, math.floor(batch * margin) // multiple_of) * multiple_of


def data_bound(train_examples: int | None) -> int | None:
    """The largest batch the data allows: MIN_STEPS_PER_EPOCH steps per epoch (at least 1)."""
    if train_examples is None:
        return None
    return max(1, train_examples // MIN_STEPS_PER_EPOCH)


class BatchSearch:
    """Grow-then-bisect search for the largest batch in 1..max_batch that fits.

    Batches are multiples of `multiple_of` (1: any batch; 8 suits GPU tensor
    cores). In those units: the search starts at `start` (the current batch,
    clamped into range) and doubles while probes fit, up to the bound; the
    first failure (or, when the start fails, halving down to the first fit)
    leaves a bracket `fits < ooms`, which is then bisected. Invariant: every
    k <= `fits` is known (or assumed) to fit and every k >= `ooms` to run out
    of memory. No batch is probed twice, and the number of probes is within
    `probe_bound(lo, hi, gap)` whatever the answers are, monotone or not.

    `limit` is "bound" when --max-batch ended the search, "data" when the
    data bound (`data_limit`) did, else "memory".
    """

    def __init__(self, max_batch: int, multiple_of: int = 1, start: int | None = None,
                 data_limit: int | None = None) -> None:
        if multiple_of < 1:
            raise ValueError(f"multiple_of must be at least 1, got {multiple_of}")
        if max_batch < multiple_of:
            raise ValueError(f"max_batch must be at least {multiple_of}, got {max_batch}")
        self.max_batch = max_batch
        self.multiple_of = multiple_of
        self.data_limit = data_limit
        upper = max_batch if data_limit is None else min(max_batch, data_limit)
        self.hi = max(1, upper // multiple_of)  # the bound, in units
        self.bound_is_data = data_limit is not None and data_limit < max_batch
        self.start = min(max(1, (start or 1) // multiple_of), self.hi)
        self.fits = 0  # 0: nothing has fitted yet
        self.ooms = self.hi + 1
        self.growing = True  # still doubling (or halving from a start that failed)
        self.down = False  # the start failed: halving
        self.gap: int | None = None  # ooms - fits when growing ended
        self.probes: list[tuple[int, bool]] = []
        self.brackets: list[tuple[int, int]] = []  # (lo, hi) batches still open after each probe

    @property
    def done(self) -> bool:
        return self.ooms - self.fits <= 1

    def next_batch(self) -> int | None:
        """The batch to probe next, or None when the answer is known."""
        if self.done:
            return None
        if not self.probes:
            k = self.start
        elif self.growing and not self.down:
            k = min(self.fits * 2, self.hi)
        elif self.growing:
            k = max(1, self.ooms // 2)
        else:
            k = (self.fits + self.ooms) // 2
        return k * self.multiple_of

    def record(self, batch: int, fitted: bool) -> None:
        self.probes.append((batch, fitted))
        k = batch // self.multiple_of
        if fitted:
            self.fits = max(self.fits, k)
        else:
            self.ooms = min(self.ooms, k)
        if self.growing:
            if len(self.probes) == 1 and not fitted:
                self.down = True
            if (self.down and fitted) or (not self.down and not fitted) or self.done:
                self.growing = False
                self.gap = self.ooms - self.fits
        self.brackets.append(self.open_range())

    def open_range(self) -> tuple[int, int]:
        """(lo, hi): the batches still open; lo > hi once the answer is known."""
        m = self.multiple_of
        return (self.fits + 1) * m, (self.ooms - 1) * m

    def probes_left(self) -> int:
        """At most how many more probes the search needs."""
        if self.done:
            return 0
        if not self.probes:
            return self._fresh_bound()
        gap = self.ooms - self.fits
        if not self.growing:
            return _log2_ceil(gap)
        if self.down:
            # Halving to 1 at most, then a bisection of at most half the last failure.
            return _log2_ceil(self.ooms) + _log2_ceil((self.ooms + 1) // 2)
        return _log2_ceil(self.hi / self.fits) + _log2_ceil(max(1, self.hi // 2))

    def _fresh_bound(self) -> int:
        hi, lo = self.hi, self.start
        up = probe_bound(lo, hi, max(1, hi // 2)) if hi > lo else 1
        down = probe_bound(1, lo, (lo + 1) // 2) if lo > 1 else 1
        return max(up, down)

    def bound(self) -> int:
        """The ceiling this search promised, from its own growing phase (for tests)."""
        lo, hi = (1, self.start) if self.down else (self.start, self.hi)
        return probe_bound(lo, hi, self.gap or 0)

    @property
    def largest(self) -> int | None:
        """The largest batch that fits, None when even the smallest does not."""
        return self.fits * self.multiple_of or None

    @property
    def limited_by(self) -> LimitedBy:
        """What stopped the batch from growing: memory, the data, or --max-batch."""
        if self.fits == self.hi and self.ooms > self.hi:
            return "data" if self.bound_is_data else "bound"
        return "memory"


def search(fits: Callable[[int], bool], max_batch: int, multiple_of: int = 1, start: int | None = None,
           data_limit: int | None = None) -> BatchSearch:
    """Run the search to the end with a predicate (pure; for tests and tools)."""
    state = BatchSearch(max_batch, multiple_of, start, data_limit)
    while (batch := state.next_batch()) is not None:
        state.record(batch, fits(batch))
    return state
