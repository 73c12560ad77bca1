"""The runs root: one private folder per attempt, listed, resolved and summarised.

Layout and files: docs/DESIGN.md, "Run folder". Every problem with the root
itself (a file in its place, no write permission, a full disk) is a
`RunStoreError` carrying one line that names the path and the fix.
"""

from __future__ import annotations

import errno
import os
import secrets
import time
from pathlib import Path
from typing import Any

from trainer.config import RunConfig
from trainer.protocol import Step
from trainer.runfiles import write_json_atomic
from tui.common.units import loss_part
from tui.kinds.script import command_words
from tui.runs.facts import RunSummary
from tui.runs.folder import RunDir

__all__ = ["RunDir", "RunStore", "RunStoreError", "RunSummary", "live_run_summary"]

_FIX = "or choose another folder with --runs-dir DIR"
_CHOOSE = "choose another folder with --runs-dir DIR"


class RunStoreError(Exception):
    """A runs-root problem, worded as one line for the person at the terminal."""


class RunStore:
    """The runs root (`--runs-dir`, `$MEMTUI_RUNS_DIR` or the XDG state dir)."""

    def __init__(self, root: str | Path) -> None:
        root = Path(root).expanduser()
        self._ensure_dir(root, "runs folder")
        # Resolved, so the run-folder path in a process's command line always
        # matches the one we look for.
        self.root = root.resolve()

    @staticmethod
    def _ensure_dir(path: Path, what: str) -> None:
        if path.exists() and not path.is_dir():
            raise RunStoreError(f"{what} {path} is a file, not a folder; move the file away {_FIX}")
        # Every folder created on the way is private too, whatever the umask:
        # a world-writable backups/ would let others plant a checkpoint to resume from.
        created = [p for p in (path, *path.parents) if not p.exists()]
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except FileExistsError:
            raise RunStoreError(f"{what} {path} is a file, not a folder; move the file away {_FIX}") from None
        except NotADirectoryError:
            raise RunStoreError(f"cannot create {what} {path}: part of that path is a file; {_CHOOSE}") from None
        except PermissionError:
            raise RunStoreError(f"cannot create {what} {path}: permission denied; {_CHOOSE}") from None
        except OSError as exc:
            raise RunStoreError(f"cannot create {what} {path}: {exc.strerror}; {_CHOOSE}") from None
        for made in created:
            os.chmod(made, 0o700)
        if not os.access(path, os.W_OK | os.X_OK):
            raise RunStoreError(f"{what} {path} is not writable; fix it with `chmod u+rwx {path}` {_FIX}")

    # --- creating --------------------------------------------------------

    def backup_dir(self, session: str) -> Path:
        """`ROOT/backups/<session>/`: resume backups shared by one session's attempts."""
        path = self.root / "backups" / session
        self._ensure_dir(path, "backup folder")
        return path

    def new_run(self, config: RunConfig, *, session: str, attempt: int, reason: str,
                trainer_module: str, baseline: Any = None, run_id: str | None = None,
                **extra: Any) -> RunDir:
        """A fresh private folder holding config.json and meta.json. `run_id` is one
        reserved earlier (`new_run_id`, for a warm spare); FileExistsError if taken."""
        reserved = run_id
        for _ in range(1 if reserved else 20):
            run_id = reserved or new_run_id()
            path = self.root / run_id
            try:
                path.mkdir(mode=0o700)
                break
            except FileExistsError:
                if reserved:
                    raise
                continue
            except OSError as exc:
                raise self._write_error(path, exc) from None
        else:  # pragma: no cover - 20 collisions of 16 random bits in one second
            raise RunStoreError(f"cannot pick a free run id in {self.root}")
        run = RunDir(path)
        try:
            os.chmod(path, 0o700)
            config.save(run.config_path)
            write_json_atomic(run.meta_path, {
                "session": session, "attempt": attempt, "reason": reason, "created": round(time.time(), 6),
                "reaper_pid": None, "pgid": None, "trainer_module": trainer_module, "baseline": baseline,
                **extra,
            })
        except OSError as exc:
            raise self._write_error(path, exc) from None
        return run

    def _write_error(self, path: Path, exc: OSError) -> RunStoreError:
        if exc.errno == errno.ENOSPC:
            return RunStoreError(f"cannot write run folder {path}: the disk is full; free some space {_FIX}")
        return RunStoreError(f"cannot write run folder {path}: {exc.strerror}; check the runs folder {_FIX}")

    # --- finding ---------------------------------------------------------

    def run_dirs(self) -> list[RunDir]:
        """Every run folder, newest first (ids start with their creation time)."""
        try:
            entries = [p for p in self.root.iterdir() if p.name != "backups" and not p.name.startswith(".")]
        except OSError as exc:
            raise RunStoreError(f"cannot read runs folder {self.root}: {exc.strerror} {_FIX}") from None
        return [RunDir(p) for p in sorted(entries, key=lambda p: p.name, reverse=True) if p.is_dir()]

    def list_runs(self) -> list[RunSummary]:
        """Summaries newest first; a damaged folder is listed as damaged, never raised."""
        return [run.summary for run in self.run_dirs()]

    def newest_live(self) -> RunDir | None:
        for run in self.run_dirs():
            if run.is_live():
                return run
        return None

    def resolve(self, ref: str) -> RunDir:
        """A run by folder path, id, or unique id prefix."""
        as_path = Path(ref).expanduser()
        if os.sep in ref and as_path.is_dir():
            return RunDir(as_path.resolve())
        runs = self.run_dirs()
        exact = [r for r in runs if r.id == ref]
        if exact:
            return exact[0]
        matches = [r for r in runs if r.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise RunStoreError(f"no run {ref!r} in {self.root}; `memtui runs` lists them")
        ids = ", ".join(r.id for r in matches[:5])
        raise RunStoreError(f"{ref!r} matches {len(matches)} runs ({ids}); give more of the id")


def new_run_id() -> str:
    """A run id: its creation time (so names sort by age) and 16 random bits."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def step_words(step: Step) -> str:
    """`ep2 412/1000 · loss 0.83`."""
    total = f"/{step.steps_in_epoch}" if step.steps_in_epoch else ""
    loss = loss_part(step.loss, step.raw, 2)
    return f"ep{step.epoch} {step.step}{total}" + (f" ·{loss}" if loss else "")


def _group_words(run_dir: Path) -> str:
    """A group's size and its slowest worker, when one lags behind rank 0 (tui/runs/ranks.py)."""
    from tui.runs.ranks import rank_steps, slowest, worker_records

    world = len(worker_records(run_dir))
    if world < 2:
        return ""
    steps = rank_steps(run_dir, world)
    lag = slowest(steps)
    if lag is not None and 0 in steps and lag[1] < steps[0]:
        return f" · {world} workers, slowest rank {lag[0]} at step {lag[1]}"
    return f" · {world} workers"


def live_run_summary(root: str | Path) -> str | None:
    """One short line for a tmux status bar about the newest live run, or None.

    Never raises and never creates the root: a status bar must not break."""
    try:
        path = Path(root).expanduser()
        if not path.is_dir():
            return None
        store = RunStore.__new__(RunStore)
        store.root = path.resolve()
        run = store.newest_live()
        if run is None:
            return None
        meta = run.meta()
        number = meta.get("attempt")
        label = f"run {number}" if isinstance(number, int) else f"run {run.id}"
        command = meta.get("command")
        if isinstance(command, list) and command and all(isinstance(a, str) for a in command):
            label += f" ({command_words(command, 24)})"
        step = run.last_step()
        text = f"{label} {step_words(step)}" if step is not None else f"{label} starting"
        return text + _group_words(run.path)
    except Exception:  # a status bar line is best effort by nature
        return None
