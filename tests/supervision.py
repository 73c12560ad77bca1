"""Helpers for tests that drive real runs through the supervisor and the stand-in trainer."""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from tests.waiting import WAIT
from trainer.protocol import Event, Step
from tui.supervision.attempt import AttemptEnded, AttemptStarted, EventBatch, Notice, SupervisorProblem

REPO = Path(__file__).resolve().parent.parent
STAND_IN = "tests.stand_in_trainer"


def script_env(monkeypatch: Any, **script: Any) -> None:
    """Point the stand-in at `script` and make `tests` importable in the trainer process."""
    monkeypatch.setenv("STAND_IN_SCRIPT", json.dumps(script))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


class Collector:
    """A sink that keeps every notice, with waits for the ones a test needs."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []
        self._cond = threading.Condition()

    def __call__(self, notice: Notice) -> None:
        with self._cond:
            self.notices.append(notice)
            self._cond.notify_all()

    def of(self, kind: type) -> list[Any]:
        with self._cond:
            return [n for n in self.notices if isinstance(n, kind)]

    def wait(self, predicate: Callable[[list[Notice]], Any], timeout: float = WAIT, what: str = "notice") -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(self.notices)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    kinds = [type(n).__name__ for n in self.notices]
                    raise AssertionError(f"timed out waiting for {what}; got {kinds}")
                self._cond.wait(left)

    def wait_ended(self, run_id: str | None = None, timeout: float = WAIT) -> AttemptEnded:
        def found(notices: list[Notice]) -> AttemptEnded | None:
            for n in notices:
                if isinstance(n, AttemptEnded) and (run_id is None or n.attempt.run_id == run_id):
                    return n
            return None

        return self.wait(found, timeout, f"the end of {run_id or 'a run'}")

    def wait_steps(self, count: int, run_id: str | None = None) -> list[Step]:
        return self.wait(lambda _: len(s := self.steps(run_id)) >= count and s, what=f"{count} steps")

    def events(self, run_id: str | None = None) -> list[Event]:
        return [e for b in self.of(EventBatch) if run_id is None or b.attempt.run_id == run_id for e in b.events]

    def steps(self, run_id: str | None = None) -> list[Step]:
        return [e for e in self.events(run_id) if isinstance(e, Step)]

    def garbage(self) -> int:
        return sum(b.garbage for b in self.of(EventBatch))

    def problems(self) -> list[str]:
        return [p.message for p in self.of(SupervisorProblem)]

    def started(self) -> list[AttemptStarted]:
        return self.of(AttemptStarted)


def group_alive(pgid: int) -> list[int]:
    """Live (non-zombie) processes in the group."""
    alive = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.info["pid"]) == pgid:
                alive.append(proc.info["pid"])
        except (ProcessLookupError, psutil.Error):
            continue
    return alive


def step_numbers(steps: list[Step]) -> list[tuple[int, int]]:
    return [(s.epoch, s.step) for s in steps]


def in_order(steps: list[Step]) -> bool:
    """Steps run 1..n in each epoch with nothing missing or repeated."""
    pairs = step_numbers(steps)
    return pairs == sorted(pairs) and len(set(pairs)) == len(pairs) and all(
        b[1] == a[1] + 1 or (b[0] == a[0] + 1 and b[1] == 1) for a, b in itertools.pairwise(pairs))
