"""The bad-input catalogue: every mistake a user can make is one clear line.

Each case runs the real `memtui` command and checks: a non-zero exit, no
traceback, at most one line on stderr, and words that say what is wrong.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.tinydata import make_image_folder

Setup = Callable[[Path], list[str]]


@dataclass
class Case:
    id: str
    setup: Setup  # builds files under tmp and returns the argv after `memtui`
    words: tuple[str, ...]  # each must appear in the message (case-insensitive)
    env: dict[str, str] = field(default_factory=dict)


def flags(*argv: str) -> Setup:
    return lambda tmp: ["run", "--headless", *argv]


def toml(text: str) -> Setup:
    def setup(tmp: Path) -> list[str]:
        (tmp / "run.toml").write_text(text)
        return ["run", "--headless", "--config", str(tmp / "run.toml")]
    return setup


def data(build: Callable[[Path], Path]) -> Setup:
    return lambda tmp: ["run", "--headless", "--data", str(build(tmp))]


def _empty(tmp: Path) -> Path:
    (tmp / "d").mkdir()
    return tmp / "d"


def _no_classes(tmp: Path) -> Path:
    (tmp / "d").mkdir()
    (tmp / "d" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return tmp / "d"


def _loop(tmp: Path) -> Path:
    # A symlink loop cannot be read even by root, unlike chmod 000.
    (tmp / "d").symlink_to(tmp / "d")
    return tmp / "d"


def _only_corrupt(tmp: Path) -> Path:
    for cls in ("a", "b"):
        (tmp / "d" / cls).mkdir(parents=True)
        (tmp / "d" / cls / "x.jpg").write_text("not an image")
    return tmp / "d"


def _class_without_images(tmp: Path) -> Path:
    root = make_image_folder(tmp / "d", classes=2, per_class=2, size=8)
    (root / "empty_class").mkdir()
    return root


def _a_file(tmp: Path) -> Path:
    (tmp / "f.txt").write_text("x")
    return tmp / "f.txt"


def _runs_root_file(tmp: Path) -> list[str]:
    (tmp / "runs").write_text("x")
    return ["runs", "--runs-dir", str(tmp / "runs")]


def _damaged_run(tmp: Path) -> list[str]:
    (tmp / "runs" / "20260101-000000-dead").mkdir(parents=True)
    return ["attach", "20260101-000000-dead", "--runs-dir", str(tmp / "runs")]


def _binary_log(tmp: Path) -> list[str]:
    (tmp / "log").write_bytes(bytes(range(256)) * 8)
    return ["diagnose", str(tmp / "log")]


CASES = [
    Case("batch-zero", flags("--batch-size", "0"), ("--batch-size", "0", "1 to")),
    Case("batch-not-a-number", flags("--batch-size", "lots"), ("--batch-size", "lots")),
    Case("batch-fraction", flags("--batch-size", "1.5"), ("--batch-size", "1.5")),
    Case("image-too-small", flags("--image-size", "4"), ("--image-size", "4")),
    Case("unknown-model", flags("--model", "huge"), ("--model", "huge", "small")),
    Case("unknown-strategy", flags("--strategy", "tpu"), ("--strategy", "tpu")),
    Case("negative-learning-rate", flags("--learning-rate", "-1"), ("--learning-rate", "-1")),
    Case("validation-split-too-big", flags("--validation-split", "1.5"), ("--validation-split", "1.5")),
    Case("zero-accumulation", flags("--grad-accum", "0"), ("--grad-accum", "0")),
    Case("growth-with-cap", flags("--memory-growth", "--gpu-memory-limit", "1024"),
         ("--memory-growth", "--gpu-memory-limit")),
    Case("interval-too-short", lambda tmp: ["--interval", "0.1"], ("--interval", "0.1", "0.25")),
    Case("unknown-flag", flags("--batchsize", "8"), ("--batchsize",)),
    Case("unknown-theme", lambda tmp: ["--theme", "nosuch"], ("theme", "nosuch")),
    Case("toml-syntax", toml("batch_size = = 3\n"), ("toml",)),
    Case("toml-unknown-key", toml("batch = 3\n"), ("unknown key", "batch")),
    Case("toml-script-table", toml("[script]\nargv = [\"python\", \"t.py\"]\nworkdir = \"/tmp\"\n"),
         ("not a setting", "after --")),
    Case("toml-wrong-type", toml('batch_size = "big"\n'), ("batch_size", "big")),
    Case("toml-bad-value", toml("batch_size = 0\n"), ("--batch-size", "0")),
    Case("toml-missing", lambda tmp: ["run", "--config", str(tmp / "nope.toml")], ("nope.toml", "does not exist")),
    Case("data-missing", lambda tmp: ["run", "--headless", "--data", str(tmp / "nope")], ("nope", "does not exist")),
    Case("data-empty", data(_empty), ("empty",)),
    Case("data-no-class-folders", data(_no_classes), ("no class subfolders",)),
    Case("data-unreadable", data(_loop), ("cannot read",)),
    Case("data-only-corrupt", data(_only_corrupt), ("readable image",)),
    Case("data-class-without-images", data(_class_without_images), ("empty_class", "no images")),
    Case("data-is-a-file", data(_a_file), ("not a folder",)),
    Case("runs-root-is-a-file", _runs_root_file, ("runs", "not a folder")),
    Case("runs-root-not-writable", lambda tmp: ["run", "--headless", "--runs-dir", "/proc/memtui-runs"],
         ("/proc/memtui-runs",)),
    Case("attach-unknown-run", lambda tmp: ["attach", "nosuch", "--runs-dir", str(tmp)], ("nosuch",)),
    Case("attach-damaged-run", _damaged_run, ("20260101-000000-dead", "damaged")),
    Case("diagnose-missing-log", lambda tmp: ["diagnose", str(tmp / "none.log")], ("none.log",)),
    Case("diagnose-binary-log", _binary_log, ("not", "text")),
    Case("diagnose-bad-exit-code", lambda tmp: ["diagnose", str(tmp), "--exit-code", "x"], ("--exit-code",)),
    Case("find-batch-margin", lambda tmp: ["find-batch", "--margin", "1.5"], ("--margin", "1.5")),
    Case("find-batch-max-batch", lambda tmp: ["find-batch", "--max-batch", "0"], ("--max-batch", "0")),
    Case("unknown-command-argument", lambda tmp: ["runs", "--sort", "x"], ("--sort",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_clear_line(case: Case, tmp_path: Path) -> None:
    argv = case.setup(tmp_path)
    env = {**os.environ, "MEMTUI_RUNS_DIR": str(tmp_path / "default-runs"), **case.env}
    done = subprocess.run([sys.executable, "-m", "tui.cli", *argv], capture_output=True, text=True,
                          env=env, timeout=60, stdin=subprocess.DEVNULL)
    message = done.stderr.strip()
    assert done.returncode != 0, f"exit 0 for bad input; stdout={done.stdout!r}"
    assert "Traceback" not in done.stderr + done.stdout
    assert message, "nothing said on stderr"
    assert len(message.splitlines()) == 1, f"more than one line:\n{message}"
    for word in case.words:
        assert word.lower() in message.lower(), f"{word!r} not in {message!r}"


def test_catalogue_covers_every_area() -> None:
    assert len(CASES) >= 25
    areas = {c.id.split("-")[0] for c in CASES}
    assert {"toml", "data", "runs", "attach", "diagnose", "find"} <= areas
