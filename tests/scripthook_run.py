"""Running a test script under memtui's script hook, as a launcher would.

The child gets the user's environment (this one, without the repository on
PYTHONPATH, so the hook cannot lean on memtui being importable) plus
`launch_env(settings, ...)`, and runs in its own folder. Importing this
module never imports TensorFlow.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.hookspec import HookSettings, launch_env
from trainer.protocol import Garbage, decode

SCRIPTS = Path(__file__).parent / "scripts"


@dataclass
class ScriptRun:
    returncode: int
    stdout: str
    stderr: str
    run_dir: Path

    @property
    def lines(self) -> list[str]:
        path = self.run_dir / "events.jsonl"
        return path.read_text().splitlines() if path.exists() else []

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every line, checked to be a valid protocol event for memtui's readers."""
        out = []
        for line in self.lines:
            item = decode(line)
            assert not isinstance(item, Garbage), item
            out.append(item.raw)
        return out

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]

    def one(self, type_: str) -> dict[str, Any]:
        found = self.of(type_)
        assert len(found) == 1, (type_, found, self.stderr[-3000:])
        return found[0]

    def hook_lines(self) -> list[str]:
        """What the hook said, from memtui's own record (RUN/hook.log, `HH:MM:SS ` before each line);
        checked to be nowhere in the script's own output."""
        assert "memtui hook:" not in self.stdout and "memtui hook:" not in self.stderr, self.stderr[-2000:]
        path = self.run_dir / "hook.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [line.split(" ", 1)[1] for line in lines]

    def not_applied(self) -> list[dict[str, Any]]:
        """Every refusal the run's events carry (run_start and run_end), once each."""
        seen: list[dict[str, Any]] = []
        for event in self.events:
            for record in event.get("not_applied") or ():
                if record not in seen:
                    seen.append(record)
        return seen


def user_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MEMTUI_HOOK")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "1"
    env.update(extra or {})
    return env


def hooked_env(run_dir: Path, base: dict[str, str] | None = None, **settings: Any) -> dict[str, str]:
    base = user_env() if base is None else base
    return {**base, **launch_env(HookSettings(run_dir=str(run_dir), **settings), base)}


def run_script(tmp_path: Path, script: str, *args: str, env: dict[str, str] | None = None,
               timeout: float = 180, **settings: Any) -> ScriptRun:
    run_dir = tmp_path / "run"
    work = tmp_path / "work"
    work.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([sys.executable, str(SCRIPTS / script), *args], cwd=work, capture_output=True,
                            text=True, timeout=timeout, env=env if env is not None else hooked_env(run_dir, **settings))
    return ScriptRun(result.returncode, result.stdout, result.stderr, run_dir)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_and_interrupt(tmp_path: Path, script: str, *args: str, signals: int = 1, after_steps: int = 1,
                      timeout: float = 180, ready: Path | None = None, **settings: Any) -> ScriptRun:
    """Start the script, send SIGINT (`signals` times) once `after_steps` step
    events are in the file (or, with `ready`, once the script wrote that file),
    and wait for it to end."""
    run_dir = tmp_path / "run"
    work = tmp_path / "work"
    work.mkdir(parents=True, exist_ok=True)
    # SIGINT at its default, as in a terminal: a test run started in the background (CI
    # does that) ignores SIGINT, the script inherits that, and a script that ignores
    # SIGINT rightly gets no KeyboardInterrupt from a second one, with or without memtui.
    proc = subprocess.Popen([sys.executable, str(SCRIPTS / script), *args], cwd=work, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=hooked_env(run_dir, **settings),
                            preexec_fn=_default_sigint)
    events = run_dir / "events.jsonl"
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if ready is not None and ready.exists():
                break
            if ready is None and events.exists() and events.read_bytes().count(b'"type":"step"') >= after_steps:
                break
            time.sleep(0.05)
        for _ in range(signals):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.3)
        stdout, stderr = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return ScriptRun(proc.returncode, stdout, stderr, run_dir)


def steps(run: ScriptRun, phase: int | None = None) -> list[dict[str, Any]]:
    return [e for e in run.of("step") if phase is None or e["phase"] == phase]


def json_stdout(run: ScriptRun) -> Any:
    return json.loads(run.stdout.strip().splitlines()[-1])


def argv(*parts: str | Path) -> Sequence[str]:
    return [str(p) for p in parts]
