"""What carries data from background threads into the event loop.

Snapshots are taken from the sampler on the screen's tick (`Sampler.since`);
only the first wakes the screen, with a Textual message, so it replaces the
waiting line at once. Supervisor notices (an event batch per trainer write: 20
a second at 20 steps/s) take a cheaper road, `Handoff`: measured on a 2-core
machine, one Textual message dispatch cost ~0.6 ms of CPU each (the queue task
waking, the handler lookup through the class hierarchy, the idle bookkeeping
after it), over a whole percent of a core at 20 a second before the screen had
done anything with them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Generic, TypeVar

from textual.message import Message

T = TypeVar("T")


class SamplesWaiting(Message):
    """The sampler stored its first snapshot: take it now, not on the next tick."""


class Handoff(Generic[T]):
    """Items put from any thread, handled on the event loop in order, all that
    are waiting in one wake-up: one loop callback per wake-up, not per item.

    `handle` runs inside `context()` (the app's: its context variables set, as
    in a message handler) and gets the waiting items as a list. Once the loop
    is closed, `put` drops items: nobody is left to show them."""

    def __init__(self, loop: asyncio.AbstractEventLoop, handle: Callable[[list[T]], None],
                 context: Callable[[], AbstractContextManager[object]]) -> None:
        self._loop = loop
        self._handle = handle
        self._context = context
        self._lock = threading.Lock()
        self._items: list[T] = []
        self._scheduled = False
        self._closed = False

    def put(self, item: T) -> None:
        with self._lock:
            if self._closed:
                return
            self._items.append(item)
            if self._scheduled:
                return  # the drain already asked for takes this one too
            self._scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed
            with self._lock:
                self._closed = True
                self._items.clear()

    def _drain(self) -> None:
        with self._lock:
            items, self._items = self._items, []
            self._scheduled = False
        with self._context():
            self._handle(items)
