"""Bad input to `python -m trainer` is one line on stderr and exit 2.

All of these fail before TensorFlow is imported, so they run fast and need no
`tf` mark.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.tinydata import make_image_folder, trainer_command, trainer_env, write_files

BAD_FLAGS = [
    ("--image-size", "4"),
    ("--image-size", "big"),
    ("--batch-size", "0"),
    ("--batch-size", "2.5"),
    ("--epochs", "0"),
    ("--steps-per-epoch", "-1"),
    ("--model", "huge"),
    ("--gpu-memory-limit", "1"),
    ("--grad-accum", "0"),
    ("--host-memory-limit", "10"),
    ("--strategy", "tpu"),
    ("--learning-rate", "0"),
    ("--learning-rate", "nan"),
    ("--validation-split", "0.95"),
    ("--seed", "-3"),
    ("--shuffle-buffer", "-1"),
    ("--prefetch", "-2"),
    ("--cpu-devices", "0"),
    ("--data", ""),
]


def run(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        trainer_command(tmp_path / "run", *flags), env=trainer_env(tmp_path / "cache"),
        capture_output=True, text=True, timeout=120,
    )


def assert_one_line_exit_2(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize(("flag", "value"), BAD_FLAGS)
def test_a_bad_value_for_each_flag_is_one_line_naming_the_flag_and_exit_2(
    tmp_path: Path, flag: str, value: str
) -> None:
    proc = run(tmp_path, flag, value)
    assert_one_line_exit_2(proc, flag.lstrip("-").split("-")[0])


def test_conflicting_growth_and_cap_is_one_line(tmp_path: Path) -> None:
    proc = run(tmp_path, "--memory-growth", "--gpu-memory-limit", "1024")
    assert_one_line_exit_2(proc, "--memory-growth", "--gpu-memory-limit")


def test_a_bad_config_json_in_the_run_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps({"batch_size": "lots"}))
    proc = run(tmp_path)
    assert_one_line_exit_2(proc, "batch_size")


def test_a_missing_data_folder_is_one_line_saying_what_to_give(tmp_path: Path) -> None:
    proc = run(tmp_path, "--data", str(tmp_path / "nowhere"))
    assert_one_line_exit_2(proc, "does not exist", "one subfolder of images per class")


def test_a_folder_without_class_subfolders_is_one_line(tmp_path: Path) -> None:
    write_files(tmp_path / "flat", ["a.png", "b.png"], b"x")
    proc = run(tmp_path, "--data", str(tmp_path / "flat"))
    assert_one_line_exit_2(proc, "no class subfolders")


def test_an_empty_data_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty" / "cats").mkdir(parents=True)
    proc = run(tmp_path, "--data", str(tmp_path / "empty"))
    assert_one_line_exit_2(proc, "hold no files")


def test_flags_override_config_json_and_the_effective_config_is_written_back(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    data = make_image_folder(tmp_path / "data", classes=2, per_class=1)
    (run_dir / "config.json").write_text(json.dumps({"batch_size": 7, "epochs": 3, "data": str(data)}))
    # A bad model from the flags still fails after the file is merged, proving the overlay order.
    proc = run(tmp_path, "--epochs", "9", "--model", "huge")
    assert proc.returncode == 2
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["batch_size"] == 7 and saved["epochs"] == 3  # unchanged: nothing valid was written

    proc = run(tmp_path, "--epochs", "9", "--data", str(tmp_path / "missing"))
    assert proc.returncode == 2
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["batch_size"] == 7 and saved["epochs"] == 9
    assert saved["data"] == str(tmp_path / "missing")
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert [e["type"] for e in events] == ["error", "run_end"]
