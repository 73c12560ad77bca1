"""Waiting in tests: one patience for every wait, sync and async.

A wait returns as soon as its condition holds; WAIT only bounds how long a
broken run can hang a test, so it is generous (two CPUs shared by a whole team).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

WAIT = 30.0


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT, what: str = "condition") -> Any:
    """Poll `predicate` until it is truthy and return its value; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def wait_for(pilot: Any, predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """The same inside Textual's pilot: the app runs while it waits."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
    return value
