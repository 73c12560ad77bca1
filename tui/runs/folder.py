"""One attempt's folder: its paths, readers, liveness and a summary for listings.

Readers never raise on a damaged folder: a missing or invalid file becomes a
`damage` reason, so `memtui runs` can list every folder and `attach` can say
why it refuses one.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from trainer.config import ConfigError, RunConfig
from trainer.protocol import (
    Event,
    RunEnd,
    RunStart,
    Step,
    decode,
    decode_lines,
)
from trainer.runfiles import (
    CONFIG_FILE,
    EVENTS_FILE,
    EXIT_FILE,
    LOCK_FILE,
    LOG_FILE,
    META_FILE,
    PID_FILE,
    VERDICT_FILE,
    read_json_object,
    write_json_atomic,
)
from tui.common import procctl
from tui.common.states import STATE_WORDS, state_of_exit, state_of_verdict
from tui.common.verdict import Verdict
from tui.diagnosis.refusals import from_verdict
from tui.kinds import kind_for
from tui.kinds.script import command_words
from tui.kinds.words import tag_words
from tui.runs.facts import (
    RunSummary,
    estimate_of,
    peak_of,
    verdict_from_dict,
)
from tui.runs.ranks import worker_records

_TAIL_BYTES = 64 * 1024


class RunDir:
    """A run folder `ROOT/<run-id>/` (see docs/DESIGN.md for its files)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.id = self.path.name
        self.config_path = self.path / CONFIG_FILE
        self.meta_path = self.path / META_FILE
        self.events_path = self.path / EVENTS_FILE
        self.log_path = self.path / LOG_FILE
        self.exit_path = self.path / EXIT_FILE
        self.pid_path = self.path / PID_FILE
        self.verdict_path = self.path / VERDICT_FILE
        self.lock_path = self.path / LOCK_FILE

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # --- readers ---------------------------------------------------------

    def try_lock(self) -> int | None:
        """Take RUN/control.lock (the right to stop and relaunch the run); the fd while
        held, None when another memtui holds it."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def config(self) -> RunConfig:
        """The attempt's config; raises ConfigError naming the file when it is missing or bad."""
        if not self.config_path.exists():
            raise ConfigError(f"{self.config_path}: config.json is missing")
        return RunConfig.load(self.config_path)

    def meta(self) -> dict[str, Any]:
        return read_json_object(self.meta_path) or {}

    def update_meta(self, **changes: Any) -> None:

        meta = self.meta()
        meta.update(changes)
        write_json_atomic(self.meta_path, meta)

    def events(self) -> tuple[list[Event], int]:
        """Every decodable event in order, and how many lines were garbage
        (a last line without its newline counts as garbage)."""
        try:
            data = self.events_path.read_bytes()
        except OSError:
            return [], 0
        return decode_lines(data.split(b"\n"))

    def exit_info(self) -> dict[str, Any] | None:
        return read_json_object(self.exit_path)

    def verdict(self) -> Verdict | None:
        data = read_json_object(self.verdict_path)
        if data is None:
            return None
        try:
            return verdict_from_dict(data)
        except (KeyError, TypeError):
            return None

    def trainer_pid(self) -> int | None:
        try:
            return int(self.pid_path.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None

    def log_tail(self, max_bytes: int = 16 * 1024) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                fh.seek(max(0, size - max_bytes))
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # --- writers ---------------------------------------------------------

    def write_verdict(self, verdict: Verdict) -> None:
        """verdict.json (OSError when it cannot be written)."""
        write_json_atomic(self.verdict_path, verdict.to_dict())

    # --- state -----------------------------------------------------------

    def is_live(self) -> bool:
        """The reaper or the trainer is still running, and it is really this run's."""
        if self.exit_path.exists():
            return False
        needle = str(self.path)
        reaper = self.meta().get("reaper_pid")
        if isinstance(reaper, int) and procctl.is_our_process(reaper, needle):
            return True
        return procctl.is_our_process(self.trainer_pid(), needle)

    def damage(self, live: bool | None = None) -> str | None:
        """Why this folder cannot be trusted, or None when it is sound."""
        if not self.path.is_dir():
            return f"{self.path} is not a folder"
        if not self.config_path.exists():
            return "config.json is missing"
        try:
            self.config()
        except ConfigError as exc:
            return str(exc)
        if self.meta_path.exists() and read_json_object(self.meta_path) is None:
            return "meta.json is not a JSON object"
        try:
            with open(self.events_path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size:
                    fh.seek(size - 1)
                    last = fh.read(1)
                    if last != b"\n" and not (self.is_live() if live is None else live):
                        return "events.jsonl is truncated: its last line is incomplete"
        except FileNotFoundError:
            pass
        except OSError as exc:
            return f"events.jsonl cannot be read ({exc.strerror})"
        return None

    def _tail_events(self, count: bool = True) -> tuple[Step | None, RunEnd | None, int]:
        """The last step and run_end from the file's tail, and (when `count`) the
        number of step lines: a byte count, so a 100k-line file lists quickly."""
        try:
            with open(self.events_path, "rb") as fh:
                if count:
                    data = fh.read()
                else:
                    fh.seek(max(0, os.fstat(fh.fileno()).st_size - _TAIL_BYTES))
                    data = fh.read()
        except OSError:
            return None, None, 0
        steps = data.count(b'"type":"step"') if count else 0
        last_step: Step | None = None
        run_end: RunEnd | None = None
        for line in reversed(data[-_TAIL_BYTES:].split(b"\n")):
            item = decode(line) if line.strip() else None
            if isinstance(item, RunEnd) and run_end is None:
                run_end = item
            elif isinstance(item, Step):
                last_step = item
                break
        return last_step, run_end, steps

    def effective_config(self) -> RunConfig:
        """The config as the trainer ran it: the demo on a CPU-only host trains
        at a smaller image size than asked, and run_start says which."""
        cfg = self.config()
        try:
            with open(self.events_path, "rb") as fh:
                first = decode(fh.readline())
        except OSError:
            return cfg
        # The built-in demo's image size on a CPU-only host; a script's batch and model.
        return kind_for(cfg).as_ran(cfg, first.raw) if isinstance(first, RunStart) else cfg

    def ending(self) -> RunEnd | None:
        """The trainer's run_end, read from the file's tail only."""
        return self._tail_events(count=False)[1]

    def last_step(self) -> Step | None:
        return self._tail_events(count=False)[0]

    def state(self, live: bool | None = None) -> str:
        if live if live is not None else self.is_live():
            return "live"
        verdict = self.verdict()
        if verdict is not None:
            return state_of_verdict(verdict)
        info = self.exit_info()
        if info is not None:
            code = info.get("returncode")
            return state_of_exit(code if isinstance(code, int) else None)
        _, run_end, _ = self._tail_events(count=False)
        if run_end is not None:
            return {"finished": "finished", "stopped": "stopped", "oom": "oom"}.get(run_end.status, "crashed")
        return "unknown"

    @property
    def status(self) -> str:
        """The state in words, e.g. `out of memory` or `damaged: config.json is missing`."""
        live = self.is_live()
        damage = self.damage(live)
        if damage:
            return f"damaged: {damage}"
        state = self.state(live)
        exit_info = self.exit_info() or {}
        # A group's ending is its failing worker's: say which one (the verdict says why).
        rank = exit_info.get("failed_rank") if state not in ("finished", "stopped") else None
        who = f"rank {rank}: " if isinstance(rank, int) else ""
        if state == "killed":
            sig = exit_info.get("signal")
            return who + (f"killed by {sig}" if sig else "killed")
        return who + STATE_WORDS[state]

    @property
    def summary(self) -> RunSummary:
        meta = self.meta()
        live = self.is_live()
        damage = self.damage(live)
        backend = None
        in_force: list[str] = []
        try:
            config = self.effective_config()
            cfg_words, backend, in_force = tag_words(config), config.backend, kind_for(config).in_force(config)
        except ConfigError:
            cfg_words = "?"
        last_step, run_end, step_lines = self._tail_events()
        steps = run_end.steps if run_end is not None else step_lines
        peak = run_end.peak_memory if run_end is not None and run_end.peak_memory else None
        if peak is None and last_step is not None:
            peak = peak_of(last_step.memory)
        created = meta.get("created")
        state = "damaged" if damage else self.state(live)
        return RunSummary(
            id=self.id, path=str(self.path), started=created if isinstance(created, (int, float)) else None,
            config=cfg_words, state=state, status=self.status if not damage else f"damaged: {damage}",
            steps=steps, peak_memory=peak, live=live, damaged=damage,
            session=meta.get("session"), attempt=meta.get("attempt"), estimate=estimate_of(meta),
            kind=meta.get("kind") if isinstance(meta.get("kind"), str) else "builtin",
            command=_command_of(meta), backend=backend,
            not_applied=[r.words for r in from_verdict(None if live else self.verdict())], in_force=in_force,
            workers=worker_records(self.path),
        )


def _command_of(meta: dict[str, Any]) -> str | None:
    """The user's own command as meta.json records it, as they typed it."""
    argv = meta.get("command")
    if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
        return command_words(argv)
    return None
