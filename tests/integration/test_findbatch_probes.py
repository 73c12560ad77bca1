"""find-batch with real probe subprocesses: the stand-in trainer runs out of
memory above a batch threshold, the way a GPU would."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from trainer.config import RunConfig
from tui.cli import main
from tui.runs.store import RunStore
from tui.session.batchsearch import max_probes
from tui.session.findbatch import ProbeFailed, ProbeReport, SearchCancelled, find_batch


def test_the_largest_batch_that_fits_is_found_and_reported_probe_by_probe(script, tmp_path: Path) -> None:
    script(oom_above_batch=37, rate=200)
    seen: list[ProbeReport] = []

    result = find_batch(RunConfig(image_size=32), RunStore(tmp_path / "runs"), max_batch=100, on_probe=seen.append)

    assert result.largest == 37
    assert result.recommended == 33  # floor(37 x 0.9)
    assert 1 <= len(seen) <= max_probes(100)
    assert [r.index for r in seen] == list(range(1, len(seen) + 1))
    assert all(r.fits == (r.batch <= 37) for r in seen)
    fitted = [r for r in seen if r.fits]
    assert fitted and all(r.peak_memory and r.examples_per_second for r in fitted)
    assert seen[-1].probes_left == 0 and seen[-1].eta_seconds == 0


def test_every_probe_is_a_short_fresh_run_that_leaves_the_users_settings_alone(script, tmp_path: Path) -> None:
    script(oom_above_batch=20, rate=200)
    store = RunStore(tmp_path / "runs")
    user = RunConfig(image_size=32, epochs=50, model="large", backup_dir=str(tmp_path / "mine"))

    result = find_batch(user, store, max_batch=64, probe_steps=3)

    runs = store.run_dirs()
    assert len(runs) == len(result.probes)
    for run in runs:
        cfg = run.config()
        assert cfg is not None
        assert (cfg.epochs, cfg.steps_per_epoch, cfg.model) == (1, 3, "large")
        assert cfg.backup_dir != user.backup_dir, "a probe never touches the user's backup"


def test_a_probe_that_crashes_for_another_reason_stops_the_search(script, tmp_path: Path) -> None:
    script(end="crash", end_at_step=1)
    with pytest.raises(ProbeFailed, match="other than memory"):
        find_batch(RunConfig(image_size=32), RunStore(tmp_path / "runs"), max_batch=16)


def test_a_cancelled_search_stops_its_probe(script, tmp_path: Path) -> None:
    script(rate=5, steps=1000)
    cancel = threading.Event()
    store = RunStore(tmp_path / "runs")

    with pytest.raises(SearchCancelled):
        find_batch(RunConfig(image_size=32), store, max_batch=16, probe_steps=1000,
                   on_start=lambda _i, _b: cancel.set(), cancel=cancel)

    (run,) = store.run_dirs()
    assert not run.is_live()


def test_the_command_prints_each_probe_with_an_eta_then_the_command_to_launch(
    script, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script(oom_above_batch=48, rate=200)

    code = main(["find-batch", "--runs-dir", str(tmp_path / "runs"), "--max-batch", "128", "--multiple-of", "8",
                 "--image-size", "32", "--model", "large"])

    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].startswith("Searching batch from 32 up to 128 in multiples of 8 with at most 6 probes")
    probe_lines = [line for line in out if line.startswith("probe ") and "batch" in line and "(" in line]
    assert probe_lines and all(("ETA" in line) or line.endswith("done") for line in probe_lines)
    assert "Largest batch that fits: 48. With margin 0.9: 40." in out
    assert out[-1] == "Launch with: memtui --image-size 32 --batch-size 40 --model large"


def test_the_command_speaks_json_when_asked(script, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script(oom_above_batch=5, rate=200)

    code = main(["find-batch", "--runs-dir", str(tmp_path / "runs"), "--max-batch", "16", "--json"])

    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert {r["type"] for r in records[:-1]} == {"probe"}
    assert records[-1] == {"type": "result", "largest": 5, "recommended": 4, "margin": 0.9,
                           "probes": len(records) - 1, "command": "memtui --batch-size 4",
                           "limited_by": "memory", "bound": 16}


def test_when_nothing_fits_the_command_says_what_to_try(script, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    script(oom_above_batch=0, rate=200)

    code = main(["find-batch", "--runs-dir", str(tmp_path / "runs"), "--max-batch", "4"])

    assert code == 3
    assert "Even batch 1 ran out of memory" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--margin", "1.5"], "--margin: 1.5 is out of range"),
        (["--max-batch", "0"], "--max-batch: 0 is out of range"),
        (["--max-batch", "8", "--multiple-of", "16"], "--multiple-of: 16 is out of range"),
        (["--batch-size", "0"], "--batch-size: 0 is out of range"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           flags: list[str], words: str) -> None:
    code = main(["find-batch", "--runs-dir", str(tmp_path / "runs"), *flags])

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and words in err
