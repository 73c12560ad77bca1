"""Drive a real program in a real tmux pane: start, type, read the screen.

Used by the end-to-end tests; each instance gets its own tmux server socket so
tests never touch a user's tmux and clean up everything they started.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import psutil


class TmuxTimeout(AssertionError):
    """The screen never showed what a test waited for (the screen is in the message)."""


class Tmux:
    def __init__(self, socket_dir: Path, width: int = 80, height: int = 24) -> None:
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed; `apt-get install tmux`")
        self.socket = str(socket_dir / f"tmux-{uuid.uuid4().hex[:8]}")
        self.width, self.height = width, height
        self.windows: list[str] = []

    def _tmux(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def start(self, argv: list[str], env: Mapping[str, str] | None = None, name: str = "main") -> str:
        """Run argv in a new window (the first call creates the server). Returns the target."""
        command = " ".join(shlex.quote(a) for a in argv)
        if env:
            command = "env " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " " + command
        # Keep the pane after the program exits so its last screen can be read.
        if not self.windows:
            self._tmux("new-session", "-d", "-s", "e2e", "-n", name, "-x", str(self.width), "-y", str(self.height),
                       command)
            self._tmux("set-option", "-g", "remain-on-exit", "on")
        else:
            self._tmux("new-window", "-d", "-t", "e2e", "-n", name, command)
        self.windows.append(name)
        return f"e2e:{name}"

    def keys(self, target: str, *keys: str, literal: bool = False) -> None:
        args = ["send-keys", "-t", target]
        if literal:
            args.append("-l")
        self._tmux(*args, *keys)

    def screen(self, target: str, *, styles: bool = False) -> str:
        """The pane's text; with `styles`, each cell's colours and attributes too
        (as tmux's own SGR sequences, so two captures compare cell for cell)."""
        return self._tmux("capture-pane", "-p", *(("-e",) if styles else ()), "-t", target, check=False)

    def resize(self, target: str, width: int, height: int) -> None:
        self._tmux("resize-window", "-t", target, "-x", str(width), "-y", str(height))

    def pane_pid(self, target: str) -> int:
        return int(self._tmux("display-message", "-p", "-t", target, "#{pane_pid}").strip())

    def pane_dead(self, target: str) -> bool:
        return self._tmux("display-message", "-p", "-t", target, "#{pane_dead}", check=False).strip() == "1"

    def wait_for(self, target: str, predicate: Callable[[str], bool] | str, timeout: float = 60.0,
                 what: str = "") -> str:
        """Poll the screen until predicate(screen) holds; raise with the screen if it never does."""
        test = (lambda s: predicate in s) if isinstance(predicate, str) else predicate
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(target)
            if test(screen):
                return screen
            time.sleep(0.25)
        label = what or (predicate if isinstance(predicate, str) else "condition")
        raise TmuxTimeout(f"screen never showed {label!r} within {timeout:.0f}s; last screen:\n{screen}")

    def kill(self) -> None:
        """Stop the server and wait for it to be gone (kill-server only asks)."""
        self._tmux("kill-server", check=False)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and any(
            self.socket in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])
        ):
            time.sleep(0.05)


def trainer_processes(under: Path) -> list[psutil.Process]:
    """Trainer processes whose run folder lies under `under`; tests running
    beside this one have their own folders, so they are not counted.

    A user's own script (`memtui -- python train.py`) has no run folder in its
    command line: it is found by the run folder in the hook's settings in its
    environment (MEMTUI_HOOK; the hook drops the variable from os.environ, but
    the process's initial environment, which /proc shows, keeps it)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmd = proc.info["cmdline"] or []
        trainer = "trainer" in cmd and any(str(under) in part for part in cmd)
        if trainer or str(under) in _hook_settings(proc):
            found.append(proc)
    return found


def _hook_settings(proc: psutil.Process) -> str:
    try:
        return proc.environ().get("MEMTUI_HOOK", "")
    except psutil.Error:
        return ""
