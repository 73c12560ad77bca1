"""A run kind owns its behaviour: `RunConfig.kind` names it, and the supervisor,
the watcher, the diagnosis and find-batch ask `kind_for(config)` instead of
testing the config for a command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from trainer.config import ConfigError, RunConfig
from tui.diagnosis import diagnose
from tui.kinds import KINDS, kind_for
from tui.kinds.script import new_command
from tui.kinds.scriptkind import HOOK_MISSING, NO_FIT_YET

PY = sys.executable


def script_config(**changes: object) -> RunConfig:
    return RunConfig(script=new_command((PY, "train.py"), "/work", set_batch=False), **changes)


def test_the_config_names_its_kind_and_a_command_brings_the_script_kind() -> None:
    assert RunConfig().kind == "builtin" and kind_for(RunConfig()) is KINDS["builtin"]
    script = script_config()
    assert script.kind == "script" and kind_for(script) is KINDS["script"]
    assert RunConfig().replace(script=script.script).kind == "script", "replace brings the command's kind"
    with pytest.raises(ConfigError, match="kind"):
        RunConfig(kind="script")
    with pytest.raises(ConfigError, match="kind"):
        RunConfig(kind="multi-worker")


def test_a_config_stored_before_kinds_were_recorded_reads_back_with_its_kind() -> None:
    stored = json.loads(script_config().to_json())
    del stored["kind"]
    assert RunConfig.from_mapping(stored).kind == "script"
    assert RunConfig.from_json(json.dumps({"batch_size": 8})).kind == "builtin"


def test_the_kind_says_who_ran_in_the_verdict() -> None:
    killed = {"exit_code": -6, "log_tail": ""}
    assert diagnose(**killed).summary.startswith("The trainer was killed by signal 6")
    assert diagnose(**killed, config=script_config()).summary.startswith("Your script was killed by signal 6")
    crashed = {"exit_code": 1, "log_tail": "Traceback (most recent call last):\nValueError: bad\n"}
    assert diagnose(**crashed, config=script_config()).summary.startswith("The script crashed with ValueError")


def test_each_kind_says_how_it_launches_and_whether_it_uses_the_spare(tmp_path: Path) -> None:
    builtin, script = kind_for(RunConfig()), kind_for(script_config())
    assert builtin.launch_spec(RunConfig(), tmp_path, {}) is None, "the reaper runs the trainer"
    spec = script.launch_spec(script_config(), tmp_path, {"PATH": "/bin"})
    assert spec is not None and spec["argv"] == [PY, "train.py"] and spec["cwd"] == "/work"
    assert builtin.uses_spare and not script.uses_spare and script.spare_refusal
    assert builtin.record(RunConfig()) == {"kind": "builtin"}
    assert script.record(script_config()) == {"kind": "script", "command": [PY, "train.py"], "workdir": "/work"}


def test_a_script_kind_says_why_no_steps_show_while_it_runs(tmp_path: Path) -> None:
    script = kind_for(script_config())
    assert script.watch_note(tmp_path, waited=1.0, fit_seen=False) == (False, None), "too early to say"
    done, note = script.watch_note(tmp_path, waited=6.0, fit_seen=False)
    assert done and note == HOOK_MISSING.format(wait=5.0)
    (tmp_path / "hook.json").write_text("{}")
    assert script.watch_note(tmp_path, waited=31.0, fit_seen=False) == (True, NO_FIT_YET)
    assert kind_for(RunConfig()).watch_note(tmp_path, waited=31.0, fit_seen=False) == (True, None)
