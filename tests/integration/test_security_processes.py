"""Security (issue 7): processes start from argument lists, never a shell, and
no configuration value is ever interpreted by one.

The source scan reads every module of `tui/` and `trainer/`; the scanner is
itself shown to catch each shape of shell use, so a clean scan means something.
The end-to-end check runs the real `memtui run --headless` on a data folder and
a runs folder whose names are shell code, and looks for any sign it ran.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.faultkit import MEMTUI, kill_all
from tests.supervision import REPO, STAND_IN, Collector, script_env
from tests.tinydata import make_image_folder
from trainer.config import RunConfig
from tui.runs.store import RunStore
from tui.supervision.supervisor import Supervisor

SHELL_CALLS = {
    ("os", "system"), ("os", "popen"), ("subprocess", "getoutput"), ("subprocess", "getstatusoutput"),
    ("asyncio", "create_subprocess_shell"), ("pty", "spawn"),
}
SPAWN_PREFIXES = ("spawn", "exec", "posix_spawn")  # os.spawnl, os.execv, os.posix_spawn, ...
ARGV_CALLS = {"run", "Popen", "call", "check_call", "check_output", "create_subprocess_exec"}


def shell_uses(source: str, filename: str = "<src>") -> list[str]:
    """Every place in `source` where a command could reach a shell or be one string."""
    tree = ast.parse(source, filename)
    imported: dict[str, tuple[str, str]] = {}  # local name -> (module, attribute)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("os", "subprocess", "asyncio", "pty"):
            for alias in node.names:
                imported[alias.asname or alias.name] = (node.module, alias.name)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        where = f"{filename}:{node.lineno}"
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            target = (func.value.id, func.attr)
        elif isinstance(func, ast.Name) and func.id in imported:
            target = imported[func.id]
        else:
            target = ("", "")
        for kw in node.keywords:
            if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                found.append(f"{where}: shell= on a call")
        if target in SHELL_CALLS:
            found.append(f"{where}: {target[0]}.{target[1]} runs a shell")
        elif target[0] == "os" and target[1].startswith(SPAWN_PREFIXES):
            found.append(f"{where}: os.{target[1]} (use subprocess with an argument list)")
        elif target[0] in ("subprocess", "asyncio") and target[1] in ARGV_CALLS:
            args = [kw.value for kw in node.keywords if kw.arg == "args"] or node.args[:1]
            if not args or not isinstance(args[0], (ast.List, ast.Tuple)):
                found.append(f"{where}: {target[1]} without a literal argument list")
    return found


def sources() -> list[Path]:
    return sorted(p for part in ("tui", "trainer") for p in (REPO / part).rglob("*.py"))


def test_no_module_of_tui_or_trainer_uses_a_shell_or_a_command_string() -> None:
    files = sources()
    assert len(files) > 40  # the scan really reads the code base
    problems = [p for f in files for p in shell_uses(f.read_text(encoding="utf-8"), str(f.relative_to(REPO)))]
    assert problems == []


@pytest.mark.parametrize("snippet", [
    "import subprocess\nsubprocess.run('ls -l', shell=True)",
    "import subprocess\nsubprocess.run(['ls'], shell=flag)",
    "import subprocess\nsubprocess.Popen('nvidia-smi')",
    "import subprocess\nsubprocess.check_output(f'ls {path}')",
    "import subprocess\nsubprocess.call(' '.join(argv))",
    "import subprocess\nsubprocess.run(args='ls ' + path)",
    "from subprocess import Popen as P\nP(cmd)",
    "import os\nos.system('ls')",
    "from os import popen\npopen('ls')",
    "import os\nos.execl('/bin/sh', 'sh', '-c', cmd)",
    "import subprocess\nsubprocess.getoutput('ls')",
    "import asyncio\nasyncio.create_subprocess_shell('ls')",
])
def test_the_scanner_catches_each_shape_of_shell_use(snippet: str) -> None:
    assert shell_uses(snippet)


def test_the_scanner_accepts_argument_lists() -> None:
    ok = ("import subprocess, sys\n"
          "subprocess.Popen([sys.executable, '-m', 'tui.supervision.reaper', run], start_new_session=True)\n"
          "subprocess.run(['ls', path], shell=False, check=True)\n")
    assert shell_uses(ok) == []


# Names a shell would act on: command substitution, separators, globbing, quotes.
HOSTILE = "x$(touch PWNED-a);touch PWNED-b;`touch PWNED-c`'\"|&*?"


def pwned(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("PWNED*")]


def test_shell_code_in_every_path_a_user_gives_is_only_ever_a_name(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    data = make_image_folder(tmp_path / f"data {HOSTILE}", classes=2, per_class=4, size=16)
    runs = tmp_path / f"runs {HOSTILE}"
    config = tmp_path / "run.toml"
    config.write_text(f"data = '''{data}'''\nepochs = 1\nsteps_per_epoch = 3\nimage_size = 16\n", encoding="utf-8")
    env = {**os.environ, "MEMTUI_TRAINER_MODULE": STAND_IN, "STAND_IN_SCRIPT": '{"rate": 100}',
           "PYTHONPATH": str(REPO), "MEMTUI_CACHE_DIR": str(tmp_path / f"cache {HOSTILE}")}
    done = subprocess.run([MEMTUI, "run", "--headless", "--config", str(config), "--runs-dir", str(runs)],
                          cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert pwned(tmp_path, work, Path.cwd()) == []
    run = next(p for p in runs.iterdir() if p.name != "backups" and not p.name.startswith("."))
    assert RunConfig.load(run / "config.json").data == str(data)  # the name arrived whole


def test_the_reaper_and_trainer_get_the_run_folder_as_one_argument(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script_env(monkeypatch, rate=20, steps=100_000)
    store = RunStore(tmp_path / f"runs {HOSTILE}")
    sink = Collector()
    sup = Supervisor(store, trainer_module=STAND_IN, sink=sink)
    try:
        info = sup.launch(RunConfig())
        sink.wait_steps(1)
        trainer_pid = int((info.run_dir / "trainer.pid").read_text())
        reaper = psutil.Process(int(json.loads((info.run_dir / "meta.json").read_text())["reaper_pid"]))
        assert reaper.cmdline() == [sys.executable, "-m", "tui.supervision.reaper", str(info.run_dir)]
        assert psutil.Process(trainer_pid).cmdline() == [sys.executable, "-m", STAND_IN, "--run-dir", str(info.run_dir)]
        assert not [p for p in reaper.children(recursive=True) if p.name() in ("sh", "bash", "dash")]
        sup.stop()
        assert sink.wait_ended(info.run_id).attempt.state == "stopped"
    finally:
        sup.close()
        kill_all(store.root)
    assert pwned(tmp_path, Path.cwd()) == []
