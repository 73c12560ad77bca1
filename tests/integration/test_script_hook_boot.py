"""The script hook's contract and start-up, without TensorFlow: settings
through one variable, the launcher's environment, the placeholder, and what
sitecustomize does (and does not do) in the user's Python and its children."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from scripthook_run import SCRIPTS, hooked_env, json_stdout, run_script, user_env

from trainer.hookspec import BOOT_DIR, ENV_VAR, HELLO_FILE, HookSettings, fill_batch_placeholder, launch_env


def test_settings_go_through_one_json_variable_and_come_back_equal() -> None:
    settings = HookSettings(run_dir="/r", batch_size=16, grad_accum=2, mixed_precision=True, jit_compile=False,
                            backup_dir="/b", host_memory_limit=4096, max_steps=3, max_epochs=1)
    env = settings.to_env()
    assert list(env) == [ENV_VAR]
    assert HookSettings.from_env(env) == settings
    assert HookSettings.from_env({}) is None


@pytest.mark.parametrize("bad", [{"batch_size": 0}, {"grad_accum": 0}, {"jit_compile": True},
                                 {"gpu_memory_fraction": 1.5}, {"batch_size": True}])
def test_settings_refuse_values_the_hook_cannot_apply(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        HookSettings(run_dir="/r", **bad)  # type: ignore[arg-type]


def test_unknown_settings_are_refused_not_ignored() -> None:
    with pytest.raises(ValueError, match="unknown settings"):
        HookSettings.from_env({ENV_VAR: json.dumps({"run_dir": "/r", "batch": 3})})


def test_the_launch_environment_puts_the_boot_folder_first_and_keeps_the_users_path() -> None:
    settings = HookSettings(run_dir="/r", memory_growth=True, max_steps=2, max_epochs=1, host_memory_limit=1024,
                            gpu_memory_fraction=0.5)
    env = launch_env(settings, {"PYTHONPATH": "/mine:/theirs"})
    assert env["PYTHONPATH"] == os.pathsep.join([str(BOOT_DIR), "/mine:/theirs"])
    assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert env["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.50"
    assert env["KERAS_MAX_STEPS_PER_EPOCH"] == "2" and env["KERAS_MAX_EPOCHS"] == "1"
    assert env["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert HookSettings.from_env(env) == settings
    plain = launch_env(HookSettings(run_dir="/r"), {"TF_ENABLE_ONEDNN_OPTS": "1"})
    assert plain["PYTHONPATH"] == str(BOOT_DIR)
    assert set(plain) == {"PYTHONPATH", ENV_VAR}
    assert (BOOT_DIR / "sitecustomize.py").is_file()


def test_the_placeholder_is_filled_everywhere_and_reported() -> None:
    argv, found = fill_batch_placeholder(["python", "t.py", "--batch", "{batch_size}", "--b2={batch_size}"], 64)
    assert found and argv == ["python", "t.py", "--batch", "64", "--b2=64"]
    assert fill_batch_placeholder(["python", "t.py"], 64) == (["python", "t.py"], False)


def test_the_hook_says_hello_imports_no_keras_and_children_run_without_it(tmp_path: Path) -> None:
    env = hooked_env(tmp_path / "run", base=user_env({"PYTHONPATH": "/users/own"}))
    run = run_script(tmp_path, "plain_children.py", env=env)
    assert run.returncode == 0, run.stderr
    seen = json_stdout(run)
    assert seen["me"] == {"hooked": True, "keras": False, "tensorflow": False, "pythonpath": "/users/own",
                          "var": False}
    assert seen["child"] == {"hooked": False, "pythonpath": "/users/own", "var": False}
    assert seen["spawned"] == {"hooked": False, "var": False}
    hello = json.loads((tmp_path / "run" / HELLO_FILE).read_text())
    assert hello["python"] == sys.executable and hello["argv"][0].endswith("plain_children.py")
    assert run.events == [] and run.hook_lines() == []


def test_without_the_variable_the_hook_does_nothing(tmp_path: Path) -> None:
    env = user_env({"PYTHONPATH": str(BOOT_DIR)})
    run = run_script(tmp_path, "plain_children.py", env=env)
    assert run.returncode == 0, run.stderr
    assert json_stdout(run)["me"]["hooked"] is False
    assert not (tmp_path / "run").exists() and run.stderr == ""


@pytest.mark.parametrize("hooked", [True, False])
def test_a_sitecustomize_the_hook_shadows_still_runs(tmp_path: Path, hooked: bool) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sitecustomize.py").write_text("import os\nos.environ['USER_SITECUSTOMIZE'] = 'ran'\n")
    base = user_env({"PYTHONPATH": str(theirs)})
    env = hooked_env(tmp_path / "run", base=base) if hooked else {**base, "PYTHONPATH": f"{BOOT_DIR}:{theirs}"}
    probe = ("import os, sys; print(os.environ.get('USER_SITECUSTOMIZE'),"
             " getattr(sys.modules.get('_memtui_hook.boot'), 'SETTINGS', None) is not None)")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ran", str(hooked)]
    assert out.stderr == ""


def test_bad_settings_leave_the_script_running_unhooked_with_one_line(tmp_path: Path) -> None:
    env = {**user_env(), "PYTHONPATH": str(BOOT_DIR), ENV_VAR: '{"run_dir": "/x", "batch_size": -1}'}
    out = subprocess.run([sys.executable, str(SCRIPTS / "plain_children.py")], env=env, capture_output=True,
                         text=True, cwd=tmp_path)
    assert out.returncode == 0
    seen = json.loads(out.stdout)
    assert seen["me"]["hooked"] is False and seen["me"]["var"] is False and seen["child"]["pythonpath"] is None
    assert [line for line in out.stderr.splitlines() if line.startswith("memtui hook:")] == [
        line for line in out.stderr.splitlines() if line.strip()]
    assert len(out.stderr.strip().splitlines()) == 1
