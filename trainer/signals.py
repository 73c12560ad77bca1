"""Graceful stop: SIGINT/SIGTERM only raise a flag.

The handlers are installed before TensorFlow is imported, so a stop that
arrives during the slow start-up is not lost. Python runs the handler between
bytecodes, which means a training step in progress always completes; the
event callback sees the flag at the end of that step, asks Keras to stop, and
the trainer saves its backup and exits 130.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType


class Stopped(Exception):
    """Raised at a phase boundary (before training starts) when a stop was requested."""


class StopFlag:
    def __init__(self) -> None:
        self.requested = False
        self.signal_name: str | None = None
        self._listeners: list[Callable[[], None]] = []

    def on_request(self, listener: Callable[[], None]) -> None:
        """Call `listener` (in the main thread) when a stop is requested."""
        self._listeners.append(listener)

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        self.signal_name = signal.Signals(signum).name
        for listener in self._listeners:
            listener()

    def check(self) -> None:
        """Raise Stopped if a stop was requested; call between start-up phases."""
        if self.requested:
            raise Stopped(self.signal_name or "stop")
