"""Do no harm: each of the hook's injection points, forced to fail, leaves the
script finishing with its own result, and the run says what was not applied.
Also the two ways memtui once broke working scripts (a model built inside
fit(), load_model then fit again), against the same script run alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scripthook_run import run_script, steps, user_env

pytestmark = pytest.mark.tf

# point: (script, settings, the change the ledger must name, words in its reason)
POINTS: dict[str, tuple[str, dict[str, Any], str, str]] = {
    "backup": ("mnist_arrays.py", {"backup_dir": "BACKUP"}, "backup", "fault=backup"),
    "accumulate": ("mnist_arrays.py", {"grad_accum": 2}, "grad-accum", "fault=accumulate"),
    "policy": ("mnist_arrays.py", {"mixed_precision": True}, "mixed-precision", "fault=policy"),
    "jit": ("mnist_arrays.py", {"jit_compile": False}, "jit-compile", "fault=jit"),
    "batch": ("mnist_arrays.py", {"batch_size": 16}, "batch", "fault=batch"),
    "batch-start": ("mnist_arrays.py", {"batch_size": 16}, "batch", "ran again as the script wrote it"),
    "cap": ("mnist_arrays.py", {"gpu_memory_limit": 512}, "gpu-cap", "fault=cap"),
    "signal": ("mnist_arrays.py", {}, "stop-on-signal", "fault=signal"),
}


@pytest.fixture(scope="module")
def alone(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    """mnist_arrays.py run by itself, once for every injection point (each point's
    run is compared with it): its outcome and the file it wrote."""
    folder = tmp_path_factory.mktemp("alone")
    bare = run_script(folder / "bare", "mnist_arrays.py", "--after", str(folder / "bare.txt"), env=user_env())
    return bare, (folder / "bare.txt").read_text()


@pytest.mark.parametrize("point", sorted(POINTS))
def test_a_failing_injection_point_leaves_the_scripts_own_result(tmp_path: Path, point: str,
                                                                 alone: tuple[Any, str]) -> None:
    script, settings, change, why = POINTS[point]
    assert script == "mnist_arrays.py"  # the one `alone` ran
    settings = {k: str(tmp_path / "backup") if v == "BACKUP" else v for k, v in settings.items()}
    mine = tmp_path / "hooked.txt"
    bare, theirs = alone
    run = run_script(tmp_path, script, "--after", str(mine), fault=point, **settings)
    assert run.returncode == bare.returncode == 0, run.stderr[-3000:]
    assert mine.read_text() == theirs == "iterations=5\n"  # the script's own batch, no accumulation
    assert run.stdout.splitlines()[-1] == bare.stdout.splitlines()[-1] == "trained"
    refused = [r for r in run.not_applied() if r["change"] == change]
    assert refused and why in refused[0]["why"], run.not_applied()
    assert refused[0]["asked"] is (change not in ("backup", "stop-on-signal"))
    assert run.one("run_end")["status"] == "finished"
    # The way back runs fit() as written, without memtui's events: its refusal is in run_end.
    starts = run.of("run_start")
    assert point == "batch-start" or any(why in note for note in starts[0]["notes"]) or point == "backup"


def test_a_failing_loop_watch_leaves_the_loop_training(tmp_path: Path) -> None:
    run = run_script(tmp_path, "gradient_tape_loop.py", fault="loop")
    assert run.returncode == 0 and run.stdout.splitlines()[-1] == "trained", run.stderr[-3000:]
    assert run.events == []
    lines = run.hook_lines()
    assert len(lines) == 1 and "the training-loop watch" in lines[0] and "training goes on" in lines[0]


def test_a_model_built_inside_fit_trains_with_the_backup_off_and_says_why(tmp_path: Path) -> None:
    mine, theirs = tmp_path / "hooked.txt", tmp_path / "bare.txt"
    bare = run_script(tmp_path / "bare", "subclassed_unbuilt.py", str(theirs), env=user_env())
    run = run_script(tmp_path, "subclassed_unbuilt.py", str(mine), backup_dir=str(tmp_path / "backup"))
    assert run.returncode == bare.returncode == 0, run.stderr[-3000:]
    assert run.stdout == bare.stdout == "history ['accuracy', 'loss'] 2\n"
    assert mine.read_text() == theirs.read_text() == "iterations=8\n"
    refused = [r for r in run.not_applied() if r["change"] == "backup"]
    assert refused and "first built inside fit()" in refused[0]["why"] and refused[0]["asked"] is False
    assert steps(run)[-1]["global_step"] == 8 and "accuracy" in steps(run)[-1]["metrics"]
    assert run.hook_lines() == []


def test_load_model_then_fit_again_trains_as_without_memtui(tmp_path: Path) -> None:
    mine, theirs = tmp_path / "hooked.txt", tmp_path / "bare.txt"
    bare = run_script(tmp_path / "bare", "checkpoint_reload.py", str(theirs), env=user_env())
    run = run_script(tmp_path, "checkpoint_reload.py", str(mine), backup_dir=str(tmp_path / "backup"))
    assert run.returncode == bare.returncode == 0, run.stderr[-3000:]
    assert run.stdout == bare.stdout == "restored Adam ['accuracy', 'loss']\n"
    assert mine.read_text() == theirs.read_text() == "iterations=8\n"  # 4 steps saved + 4 after the restore
    assert sorted((tmp_path / "work").iterdir()) == [tmp_path / "work" / "best.keras"]
    assert [e["phase"] for e in run.of("run_end")] == [1, 2]


def test_a_model_load_model_restores_keeps_the_accumulation_it_was_saved_with(tmp_path: Path) -> None:
    """Keras' own compile (load_model) is not changed: the saved optimizer already accumulates."""
    run = run_script(tmp_path, "checkpoint_reload.py", grad_accum=2)
    assert run.returncode == 0, run.stderr[-3000:]
    first, second = run.of("run_start")
    assert first["grad_accum"] == second["grad_accum"] == 2
    assert [r for r in run.not_applied() if r["change"] == "grad-accum"] == []
