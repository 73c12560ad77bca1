"""SIGINT during fit(): the first ends training after the step in progress
(`model.stop_training`), so fit() returns and the script's own code after it
(saving) runs; a second goes to the handler that was there before (Python's
default raises KeyboardInterrupt, as usual). Outside fit() SIGINT is left
alone. Only the main thread can install a handler; elsewhere, or where
Python refuses it, the script's own handling stays and the ledger says so.
A stop asked for stays asked for: a later fit() in the same script stops
after its first step.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

from _memtui_hook.state import HookState


class StopOnSigint:
    def __init__(self, state: HookState, request_stop: Callable[[], None], phase: int = 0) -> None:
        self.state = state
        self.request_stop = request_stop
        self.phase = phase
        self.previous: Any = None
        self.installed = False
        self.count = 0

    def __enter__(self) -> StopOnSigint:
        if threading.current_thread() is not threading.main_thread():
            self.state.refuse("stop-on-signal", "fit() runs outside the main thread; a stop from memtui "
                              "interrupts it the script's own way", False, self.phase)
            return self
        try:
            if self.state.fault("signal"):
                raise ValueError("fault injected by the test setting fault=signal")
            previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        except (ValueError, OSError, TypeError) as exc:
            self.state.refuse("stop-on-signal", f"Python refused the handler ({exc})", False, self.phase)
            return self
        self.previous = previous
        self.installed = True
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self.installed and signal.getsignal(signal.SIGINT) == self._handle:
                signal.signal(signal.SIGINT, self.previous)
        except (ValueError, OSError, TypeError) as own:
            self.state.problems.report("restoring the SIGINT handler", own, "the script's handler may be memtui's")

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count == 1 and self.state.active():
            self.state.stop_requested = True
            try:
                self.request_stop()
                return
            except Exception as exc:  # memtui's stop failed: the signal goes on as without memtui
                self.state.problems.report("the graceful stop", exc, "SIGINT goes to the script's own handler")
        previous = self.previous
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
        self.installed = False
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt
