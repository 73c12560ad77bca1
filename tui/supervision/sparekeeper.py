"""Which warm spare waits beside the runs of one supervisor, and when there is none.

A new spare is prepared after a cold attempt's run_start (its own imports and
model are done, so a spare is ready when its first step runs out of memory, the
usual moment), and right after a hand-over to the spare (the warm attempt imports
nothing, and a chain of relaunches that each run out of memory at their first
step needs the next spare importing already); `early` does it after every
launch. No spare under `enabled=False` (--no-spare), after a host OOM without
--host-memory-limit (the spare itself takes hundreds of MiB of RAM), after a stop
by hand (nothing trains), nor for the user's own command. `claim` says in words
why an attempt starts cold.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from trainer.config import RunConfig
from trainer.protocol import RunStart, Step
from tui.common.verdict import HOST_OOM
from tui.kinds import kind_for
from tui.runs.store import RunStore, new_run_id
from tui.supervision.attempt import AttemptEnded, AttemptInfo, EventBatch, SupervisorProblem
from tui.supervision.spare import Spare, ready_timeout


class SpareKeeper:
    def __init__(self, store: RunStore, trainer_module: str, problem: Callable[[SupervisorProblem], None], *,
                 enabled: bool = True, early: bool = False, ready_seconds: float | None = None) -> None:
        self.store = store
        self.trainer_module = trainer_module
        self._problem = problem
        self.enabled = enabled
        self.early = early
        self.ready_seconds = ready_timeout() if ready_seconds is None else ready_seconds
        self._spare: Spare | None = None
        self._lock = threading.Lock()
        self._wanted = False  # a spare is being prepared
        self._host_oom = False  # the last ending was a host OOM: no spare beside the next attempt
        self._stopped_by_hand = False  # the last ending was a stop by hand: the spare was let go
        self._closed = False

    @property
    def spare(self) -> Spare | None:
        """The spare waiting now, if any (its pids and RSS are memtui's own, not the run's)."""
        return self._spare

    def usage(self) -> tuple[tuple[int, ...], int] | None:
        """(pids, resident bytes) of the waiting spare, for the memory panel; None without one."""
        spare = self._spare
        if spare is None or not spare.alive():
            return None
        return spare.pids(), spare.rss()

    # --- what the supervisor tells it ----------------------------------------

    def seen(self, batch: EventBatch) -> None:
        """Once an attempt's start-up is done, so the spare's import does not slow it: a
        warm attempt's first step (recovery time is measured to it); a cold attempt's
        run_start (imports and model built), so a spare is ready when its first step OOMs."""
        if (self._spare is None and not self._wanted and not batch.attempt.read_only
                and any(isinstance(e, Step if batch.attempt.spare else (RunStart, Step)) for e in batch.events)):
            self.prepare_soon(batch.attempt)

    def launched(self, info: AttemptInfo) -> None:
        """After a hand-over the next spare starts at once: a relaunch that runs out of
        memory at its first step (the usual moment) must find one importing already."""
        if self.early or info.spare:
            self.prepare_soon(info)

    def ended(self, ended: AttemptEnded, relaunching: bool) -> None:
        config = ended.attempt.config
        self._host_oom = ended.verdict.kind == HOST_OOM and (config is None or config.host_memory_limit is None)
        # A stop asked for by hand (not the stop before a relaunch): nothing is training,
        # so the spare's hundreds of MiB are let go; the next launch starts cold and says so.
        self._stopped_by_hand = ended.attempt.state == "stopped" and not relaunching
        if self._host_oom or self._stopped_by_hand:
            self.discard()

    def close(self) -> None:
        self._closed = True
        self.discard()

    # --- the spare itself ------------------------------------------------------

    def claim(self, config: RunConfig, launches: int) -> tuple[Spare | None, str | None]:
        """The ready spare for `config`, or None and why the attempt starts cold."""
        claimed = self._claim(config, launches)
        self._stopped_by_hand = False  # a launch: spares are wanted again
        return claimed

    def _claim(self, config: RunConfig, launches: int) -> tuple[Spare | None, str | None]:
        with self._lock:
            spare, self._spare = self._spare, None
        if not self.enabled:
            return None, "--no-spare"
        kind = kind_for(config)
        if not kind.uses_spare:
            if spare is not None:
                spare.discard()
            return None, kind.spare_refusal
        if config.workers > 1:
            if spare is not None:
                spare.discard()
            return None, f"--workers {config.workers}: a group of workers always starts cold"
        if self._host_oom:
            if spare is not None:
                spare.discard()
            return None, ("the last attempt ran the host out of memory, and a spare takes hundreds of MiB "
                          "of RAM itself")
        if spare is None:
            if self._stopped_by_hand:
                return None, "the spare was let go when the run was stopped by hand"
            return None, ("no spare was ready yet (one is prepared once an attempt has started training)"
                          if launches else "the first attempt always starts cold")
        why = spare.compatible(config, self.trainer_module)
        if why is None and not spare.wait_ready(self.ready_seconds):
            why = ("the spare died before it was needed" + (f": {spare.death}" if spare.death else "")
                   if not spare.alive() else
                   f"the spare was not ready within {self.ready_seconds:g} s of its start, so it was ended")
        if why is not None:
            spare.discard()
            return None, why
        return spare, None

    def prepare_soon(self, attempt: AttemptInfo) -> None:
        """Start a spare in the background, unless one exists or none is wanted now."""
        if not self.enabled or self._host_oom or self._closed:
            return
        if not kind_for(attempt.config).uses_spare or (attempt.config is not None and attempt.config.workers > 1):
            return  # the spare is one warm built-in trainer: no use to, say, the user's own command or a group
        with self._lock:
            if self._spare is not None or self._wanted:
                return
            self._wanted = True
        threading.Thread(target=self._prepare, args=(attempt.config,), name="spare-start", daemon=True).start()

    def _prepare(self, config: RunConfig | None) -> None:
        spare = None
        try:
            run_id = new_run_id()
            if (self.store.root / run_id).exists():
                return
            folder = self.store.root / ".spares"
            folder.mkdir(mode=0o700, exist_ok=True)
            spare = Spare(self.store.root / run_id, self.trainer_module, config, folder / f"{run_id}.log")
        except OSError as exc:
            self._problem(SupervisorProblem(f"cannot start a warm spare trainer: {exc}; relaunches start cold"))
        finally:
            with self._lock:
                self._wanted = False
                if spare is not None and not self._closed and self._spare is None and not self._stopped_by_hand:
                    self._spare, spare = spare, None
            if spare is not None:
                spare.discard()

    def discard(self) -> None:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            spare.discard()

