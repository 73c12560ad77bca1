"""The screen on the user's own script, under Textual's pilot: the keys that
cannot apply are greyed with their reason, the header names the command and
the model, and the remedy keys relaunch the command with new hook settings.

The live runs use tests/stand_in_script.py: real Python under memtui's real
script hook (hook.json, events through the hook's writer), no TensorFlow."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.screenkit import header, log_text, screen_app, verdict
from tests.waiting import wait_for
from trainer.config import RunConfig
from tui.kinds.script import new_command
from tui.runs.store import RunStore
from tui.ui.app import MemtuiApp
from tui.ui.screens.help import HelpScreen

REPO = Path(__file__).resolve().parents[2]
STAND_IN = str(REPO / "tests" / "stand_in_script.py")


def stand_in(monkeypatch: pytest.MonkeyPatch, **plan: Any) -> None:
    monkeypatch.setenv("STAND_IN_FIT", json.dumps(plan))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


def script_config(*args: str, **changes: object) -> RunConfig:
    return RunConfig(script=new_command([sys.executable, STAND_IN, *args], REPO,
                                        set_batch="batch_size" in changes), **changes)


async def test_c_is_greyed_with_its_reason_and_the_header_names_the_command(isolated_dirs: Path) -> None:
    app = MemtuiApp(script_config("--epochs", "3"), live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.check_action("remedy", ("small-model",)) is None
        assert app.check_action("remedy", ("xla-off",)) is True
        assert app.check_action("remedy", ("halve-batch",)) is None  # no fit() seen yet: the batch is unknown
        assert "$ python stand_in_script.py --epochs 3" in header(app)
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        rows = [str(row.render()) for row in help_screen.query(".words")]
        assert any(row.startswith("Switch between the small and the large CNN") and row.endswith(
            "(not for this run: your own script builds its own model; memtui cannot swap it)") for row in rows), rows
        assert "not known until its fit() starts" in help_screen.reasons["remedy('halve-batch')"]
        assert "remedy('memory-growth')" not in help_screen.reasons


async def test_an_oom_then_b_relaunches_the_command_with_half_the_batch(
        monkeypatch: pytest.MonkeyPatch, isolated_dirs: Path) -> None:
    stand_in(monkeypatch, batch=64, oom_above=40, steps=3, rate=20)
    app = screen_app(isolated_dirs, script_config())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "oom", "the OOM")
        assert "model stand_in_model · batch 64" in header(app)
        assert "halve the batch 64 → 32" in verdict(app)
        assert app.check_action("remedy", ("halve-batch",)) is True
        assert app.check_action("remedy", ("small-model",)) is None
        await pilot.press("b")
        await wait_for(pilot, lambda: app.attempt is not None and app.attempt.number == 2, "attempt 2")
        await wait_for(pilot, lambda: app.run_state == "finished", "attempt 2 to finish")
        assert "batch 32" in header(app)
        assert "fit() started: model stand_in_model, 1,234 parameters, batch 32" in log_text(app)
        await pilot.press("x")
        await wait_for(pilot, lambda: app.attempt is not None and app.attempt.number == 3
                       and app.run_state == "finished", "attempt 3, XLA off")
        assert "XLA off" in header(app) and "XLA off" in log_text(app)
    runs = sorted(RunStore(isolated_dirs).run_dirs(), key=lambda r: r.meta()["attempt"])
    settings = [json.loads(r.meta()["launch"]["env"]["MEMTUI_HOOK"]) for r in runs]
    assert [(s["batch_size"], s["jit_compile"]) for s in settings] == [(None, None), (32, None), (32, False)]
    assert all(r.meta()["kind"] == "script" and r.meta()["command"][1] == STAND_IN for r in runs)


async def test_a_script_without_fit_says_so_once_on_the_screen(monkeypatch: pytest.MonkeyPatch,
                                                              isolated_dirs: Path) -> None:
    stand_in(monkeypatch, no_fit=True)
    app = screen_app(isolated_dirs, script_config())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "finished", "the run to finish")
        assert log_text(app).count("── note: no Keras fit() and no optimizer update were seen in this run") == 1
        assert "no Keras fit() was seen" in verdict(app)


async def test_f_finds_the_largest_batch_of_a_script_and_relaunches_it_with_that_batch(
        monkeypatch: pytest.MonkeyPatch, isolated_dirs: Path) -> None:
    stand_in(monkeypatch, batch=32, oom_above=100, steps=2, rate=50)
    app = screen_app(isolated_dirs, script_config())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.run_state == "finished", "the first run")
        assert app.check_action("find_batch", ()) is True
        await pilot.press("f")
        await wait_for(pilot, lambda: "find batch: largest fitting 100 (" in log_text(app)
                       and "launching with 90" in log_text(app),
                       "the search's answer", timeout=120)
        await wait_for(pilot, lambda: app.run_state == "finished" and "batch 90" in header(app),
                       "the relaunch with batch 90", timeout=60)
    assert app.attempt is not None and app.attempt.config is not None
    assert app.attempt.config.script is not None and app.attempt.config.script.set_batch
