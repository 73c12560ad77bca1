"""`memtui ... -- COMMAND`: the command line, the script kind and its rules, with
no TensorFlow. Bad input is one line and exit 2 before anything starts; the
kind's capabilities, the remedies, the ladder, the hook's settings and the
words follow from what the script's fit() reported."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from trainer.command import ScriptCommand
from trainer.config import RunConfig
from trainer.hookspec import BOOT_DIR, HookSettings
from tui.common.verdict import DEVICE_OOM, FINISHED, HOST_OOM, NOT_OOM, STOPPED
from tui.diagnosis import diagnose
from tui.diagnosis.frames import user_frame
from tui.kinds import BATCH, MODEL_SWITCH, SCRIPT, XLA, kind_of
from tui.kinds.script import (
    command_problem,
    command_words,
    hook_blocked,
    hook_settings,
    launch_spec,
    learn,
    new_command,
    resume_note,
)
from tui.kinds.words import header_words
from tui.remedies import table
from tui.remedies.changes import NoRemedy
from tui.remedies.ladder import next_rung
from tui.session.recovery import Recovery
from tui.ui import keyrules
from tui.ui.keyrules import KeyState
from tui.ui.widgets.keys import REMEDY_KEYS

SCRIPTS = Path(__file__).parents[1] / "scripts"
PY = sys.executable


def script_config(*argv: str, set_batch: bool = False, **changes: object) -> RunConfig:
    return RunConfig(script=new_command(argv or (PY, "train.py"), "/work", set_batch=set_batch), **changes)


def fit(config: RunConfig, **run_start: object) -> RunConfig:
    """The config after the script's fit() reported `run_start`."""
    return learn(config, {"phase": 1, **run_start})


# --- the command line: one line, exit 2, nothing started -------------------------------

BAD = [
    ("nothing-after-dashes", ["run", "--headless", "--"], ("nothing after --",)),
    ("bare-nothing-after-dashes", ["--"], ("nothing after --",)),
    ("command-not-found", ["run", "--headless", "--", "memtui-no-such-command"], ("command not found",)),
    ("script-missing", ["run", "--headless", "--", PY, "no_such_train.py"], ("no such script", "no_such_train.py")),
    ("program-path-missing", ["--", "./no-such-program"], ("no such program",)),
    ("program-is-a-folder", ["run", "--headless", "--", "/tmp"], ("folder",)),
    ("data-with-a-command", ["run", "--headless", "--data", "/tmp", "--", PY, "x.py"], ("--data", "built-in")),
    ("model-with-a-command", ["--model", "large", "--", PY, "x.py"], ("--model", "built-in")),
    ("image-size-with-a-command", ["run", "--image-size", "64", "--", PY, "x.py"], ("--image-size", "built-in")),
    ("epochs-with-a-command", ["run", "--headless", "--epochs", "3", "--", PY, "x.py"], ("--epochs", "after --")),
    ("find-batch-model", ["find-batch", "--model", "small", "--", PY, "x.py"], ("--model", "built-in")),
    ("find-batch-nothing", ["find-batch", "--"], ("nothing after --",)),
    ("no-xla-without-a-command", ["run", "--headless", "--no-xla"], ("--no-xla", "your own script")),
    ("bad-batch-with-a-command", ["run", "--batch-size", "0", "--", PY, "x.py"], ("--batch-size",)),
    ("backend-with-a-command", ["run", "--headless", "--backend", "jax", "--", PY, "x.py"],
     ("--backend", "KERAS_BACKEND=jax")),
]


@pytest.mark.parametrize(("argv", "words"), [(a, w) for _, a, w in BAD], ids=[i for i, _, _ in BAD])
def test_a_bad_command_line_is_one_line_and_exit_2_before_anything_starts(argv: list[str], words: tuple[str, ...],
                                                                         tmp_path: Path) -> None:
    # A `tensorflow` that cannot be imported: refusing must not need it.
    poison = tmp_path / "poison" / "tensorflow"
    poison.mkdir(parents=True)
    (poison / "__init__.py").write_text("raise SystemExit('memtui imported tensorflow')\n")
    (tmp_path / "x.py").write_text("print('never run')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(poison.parent), str(Path(__file__).parents[2])]),
           "MEMTUI_RUNS_DIR": str(tmp_path / "runs")}
    done = subprocess.run([PY, "-m", "tui.cli", *argv], capture_output=True, text=True, env=env, timeout=60,
                          stdin=subprocess.DEVNULL, cwd=tmp_path)
    message = done.stderr.strip()
    assert done.returncode == 2, (done.returncode, message, done.stdout)
    assert "Traceback" not in done.stderr + done.stdout and "tensorflow" not in message
    assert len(message.splitlines()) == 1, message
    for word in words:
        assert word.lower() in message.lower(), (word, message)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir()), "a run was started"


def test_the_commands_that_exist_and_the_ones_that_do_not(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("")
    env = {"PATH": os.environ["PATH"]}
    assert command_problem([PY, "train.py"], tmp_path, env) is None
    assert command_problem(["python3", "-u", "-W", "ignore", "train.py", "--x"], tmp_path, env) is None
    assert command_problem([PY, "-m", "some.module"], tmp_path, env) is None
    assert command_problem([PY, "-c", "print(1)"], tmp_path, env) is None
    assert "no such script: missing.py" in (command_problem([PY, "-X", "dev", "missing.py"], tmp_path, env) or "")
    assert "command not found" in (command_problem(["python-nope"], tmp_path, {"PATH": str(tmp_path)}) or "")
    assert "not executable" in (command_problem(["./train.py"], tmp_path, env) or "")
    assert command_problem(["sh", "-c", "true"], tmp_path, env) is None
    assert hook_blocked([PY, "-I", "train.py"]) == "-I"
    assert hook_blocked([PY, "-u", "train.py", "-E"]) is None  # the script's own option
    assert hook_blocked([PY, "-W", "ignore", "-I", "train.py"]) == "-I"  # after an option's value
    assert hook_blocked(["sh", "-E"]) is None


# --- the kind: what can be changed from outside, and why not ---------------------------


def test_a_script_cannot_switch_the_model_and_says_why() -> None:
    config = fit(script_config(), batch_size=64, batch_control="arrays", model="mine")
    assert kind_of(config).name == "script" and not kind_of(config).allows(MODEL_SWITCH)
    assert not table.applies("small-model", kind_of(config))
    with pytest.raises(NoRemedy, match="builds its own model"):
        table.change_for("small-model", config)
    state = KeyState(config=config, run_state="oom", controls=True, has_recovery=True)
    assert keyrules.check("remedy", state, "small-model") is None
    assert "your own script builds its own model" in (keyrules.why_not(REMEDY_KEYS["small-model"], config) or "")
    for remedy in ("halve-batch", "memory-growth", "mixed-precision", "grad-accum", "xla-off"):
        assert keyrules.check("remedy", state, remedy) is True, remedy
    assert keyrules.check("find_batch", state) is True


def test_a_script_on_jax_is_known_from_its_fit_and_x_is_greyed_with_the_reason() -> None:
    before = script_config()
    assert kind_of(before).allows(XLA), "until fit() says otherwise, the script is taken to run on TensorFlow"
    config = fit(before, batch_size=64, batch_control="arrays", model="mine", backend="jax")
    assert config.backend == "jax" and "JAX" in header_words(config, 80)
    state = KeyState(config=config, run_state="oom", controls=True, has_recovery=True)
    assert keyrules.check("remedy", state, "xla-off") is None
    assert "on JAX every training step is compiled by XLA" in (keyrules.why_not(REMEDY_KEYS["xla-off"], config) or "")
    assert keyrules.check("remedy", state, "memory-growth") is True, "memory growth means no preallocation on JAX"
    assert fit(before, backend="theano").backend == "tensorflow", "an unknown backend is not taken"


def test_the_batch_can_be_changed_only_where_fit_lets_memtui_set_it() -> None:
    before = script_config()
    assert not kind_of(before).allows(BATCH)
    assert "not known until its fit() starts" in kind_of(before).why_not(BATCH)
    arrays = fit(before, batch_size=64, batch_control="arrays")
    assert kind_of(arrays) is SCRIPT and arrays.batch_size == 64 and arrays.script is not None
    halved = table.change_for("halve-batch", arrays)
    assert halved.config.batch_size == 32 and halved.config.script is not None and halved.config.script.set_batch
    generator = fit(before, batch_size=None, batch_control=None)
    assert "generator or a PyDataset" in kind_of(generator).why_not(BATCH)
    assert "{batch_size}" in kind_of(generator).why_not(BATCH)
    unread = fit(before, batch_size=None, batch_control="rebatch")
    assert "--batch-size" in kind_of(unread).why_not(BATCH)
    state = KeyState(config=generator, run_state="oom", controls=True, has_recovery=True)
    assert keyrules.check("remedy", state, "halve-batch") is None and keyrules.check("find_batch", state) is None
    placeholder = script_config(PY, "train.py", "--batch", "{batch_size}")
    assert placeholder.script is not None and placeholder.script.set_batch and kind_of(placeholder) is SCRIPT
    given = script_config(set_batch=True, batch_size=48)
    assert kind_of(given) is SCRIPT  # --batch-size given: fit() will say whether it could be set


def test_the_ladder_climbs_only_the_remedies_a_script_supports() -> None:
    config = fit(script_config(set_batch=True, batch_size=64), batch_size=64, batch_control="arrays")
    recovery = Recovery(True)
    seen = []
    for kind in (DEVICE_OOM,) * 6:
        change = next_rung(config, recovery.tried, kind=kind)
        if change is None:
            break
        seen.append(change.id)
        recovery.tried.append(change.id)
        config = change.config
    assert seen == ["memory-growth", "halve-batch-accum", "mixed-precision", "xla-off", "halve-batch",
                    "halve-batch"]
    assert config.script is not None and not config.script.xla and config.mixed_precision
    host = fit(script_config(), batch_size=64, batch_control="arrays")
    first = next_rung(host, [], kind=HOST_OOM)
    assert first is not None and first.id == "halve-batch-accum" and first.config.batch_size == 32
    assert first.config.grad_accum == 2 and first.config.script is not None and first.config.script.set_batch
    fixed = fit(script_config(), batch_size=None, batch_control=None)
    assert next_rung(fixed, ["memory-growth", "mixed-precision"], kind=HOST_OOM) is None


def test_what_the_hook_is_told_and_what_the_reaper_starts(tmp_path: Path) -> None:
    config = script_config(PY, "train.py", "--batch={batch_size}", batch_size=24, mixed_precision=True,
                           grad_accum=2, host_memory_limit=2048, steps_per_epoch=5,
                           backup_dir=str(tmp_path / "backups"))
    assert config.script is not None
    config = config.replace(script=replace(config.script, xla=False))
    settings = hook_settings(config, tmp_path / "run")
    assert settings == HookSettings(run_dir=str(tmp_path / "run"), batch_size=24, batch_placeholder=True,
                                    grad_accum=2, mixed_precision=True, jit_compile=False,
                                    backup_dir=str(tmp_path / "backups" / "script-mixed16-accum2"),
                                    host_memory_limit=2048, max_steps=5)
    spec = launch_spec(config, tmp_path / "run", {"PYTHONPATH": "/mine", "PATH": "/bin"})
    assert spec["argv"] == [PY, "train.py", "--batch=24"] and spec["cwd"] == "/work"
    env = spec["env"]
    assert env["PYTHONPATH"] == f"{BOOT_DIR}{os.pathsep}/mine" and env["PYTHONUNBUFFERED"] == "1"
    assert HookSettings.from_env(env) == settings and "PATH" not in env  # only what memtui adds
    own = hook_settings(script_config(), tmp_path / "run")
    assert own.batch_size is None and own.jit_compile is None and own.backup_dir is None


def test_a_script_config_round_trips_through_config_json() -> None:
    config = fit(script_config(PY, "train.py", "--lr", "0.1", set_batch=True, batch_size=16), batch_size=16,
                 batch_control="rebatch", model="net", epochs=7)
    again = RunConfig.from_json(config.to_json())
    assert again == config and again.script == ScriptCommand(
        argv=(PY, "train.py", "--lr", "0.1"), workdir="/work", set_batch=True, batch_control="rebatch",
        batch_known=True, model="net")
    assert again.epochs == 7


def test_the_words_name_the_command_shortened_and_the_model() -> None:
    config = fit(script_config("/very/long/path/to/a/venv/bin/python", "/home/me/project/train_the_model.py",
                               "--epochs", "300", "--data", "/home/me/data/set"),
                 batch_size=64, batch_control="arrays", model="resnet_tiny")
    line = header_words(config, 78)
    assert len(line) <= 78, line
    assert line.startswith("$ python train_the_model.py") and "model resnet_tiny · batch 64" in line
    assert command_words(["python", "t.py"], 4) == "pyt…"
    assert "batch: the script's own" in header_words(script_config())


def test_resume_notes_say_whether_a_relaunch_continues() -> None:
    assert "continues from epoch 3" in (resume_note({"phase": 1, "initial_epoch": 2}, relaunch=True) or "")
    assert "starts from the first epoch" in (resume_note({"phase": 1, "backup_dir": "/b"}, relaunch=True) or "")
    assert resume_note({"phase": 1, "backup_dir": "/b"}, relaunch=False) is None
    assert resume_note({"phase": 2, "initial_epoch": 2}, relaunch=True) is None


# --- the diagnosis of a script's ending ---------------------------------------------------

TRACEBACK = """Epoch 1/3
Traceback (most recent call last):
  File "/work/train.py", line 12, in <module>
    model.fit(x_train, y_train)
  File "/venv/lib/python3.11/site-packages/keras/src/utils/traceback_utils.py", line 122, in error_handler
    raise e.with_traceback(filtered_tb) from None
  File "/repo/trainer/scripthook/boot/_memtui_hook/patches.py", line 71, in fit
    history = original_fit(*run.args, **run.kwargs)
  File "/work/model.py", line 30, in call
    return self.dense(inputs) + undefined_name
NameError: name 'undefined_name' is not defined
"""


def test_a_crashing_script_is_crashed_with_its_own_file_and_line() -> None:
    assert user_frame(TRACEBACK, "/work") == "model.py:30 in call: return self.dense(inputs) + undefined_name"
    verdict = diagnose(exit_code=1, log_tail=TRACEBACK, events=(), config=script_config())
    assert verdict.kind == NOT_OOM
    assert verdict.summary.startswith("The script crashed with NameError: name 'undefined_name' is not defined")
    assert verdict.evidence[0] == "in your script: model.py:30 in call: return self.dense(inputs) + undefined_name"
    assert verdict.details["where"].startswith("model.py:30")
    usage = diagnose(exit_code=2, log_tail="usage: train.py [-h]\ntrain.py: error: unrecognized arguments: --x\n",
                     config=script_config())
    assert usage.summary.startswith("The script exited with code 2")


def test_a_script_that_ran_the_host_out_of_memory_is_called_your_script_not_the_trainer() -> None:
    tail = "terminate called after throwing an instance of 'std::bad_alloc'\n  what():  std::bad_alloc\n"
    verdict = diagnose(exit_code=-6, log_tail=tail, config=script_config(host_memory_limit=3584))
    assert verdict.kind == HOST_OOM
    assert verdict.summary.startswith("Your script aborted with std::bad_alloc"), verdict.summary
    builtin = diagnose(exit_code=-6, log_tail=tail, config=RunConfig(host_memory_limit=3584))
    assert builtin.summary.startswith("The trainer aborted with std::bad_alloc")


def test_a_script_stopped_by_the_user_may_exit_0_and_is_still_stopped() -> None:
    from trainer.protocol import decode, encode

    end = decode(encode("run_end", phase=1, status="stopped", steps=12))
    verdict = diagnose(exit_code=0, log_tail="", events=(end,), config=script_config())
    assert verdict.kind == STOPPED
    finished = diagnose(exit_code=0, log_tail="trained\n", events=(), config=script_config())
    assert finished.kind == FINISHED and "no Keras fit() was seen" in finished.summary
