"""Exports of a run folder: CSV rows (`memtui runs --csv`) and the TensorBoard
event file (written when an attempt ends, and by `memtui runs --tensorboard`).

The runs are played by the stand-in trainer through the real supervisor, so the
export hook at the end of an attempt is exercised as in use. The TensorBoard
file is read back with TensorFlow's own reader (marked tf).
"""

from __future__ import annotations

import csv
import io
import json
import struct
import time
from pathlib import Path

import pytest

from trainer.config import RunConfig
from tui.cli import main
from tui.runs.store import RunStore
from tui.runs.tensorboard import FOLDER
from tui.runs.tfrecord import crc32c, masked_crc32c
from tui.session.headless import run_headless
from tui.session.recovery import Recovery

QUICK = RunConfig(epochs=2, steps_per_epoch=3, image_size=32, batch_size=8)


def finished_run(script, tmp_path: Path) -> Path:
    script(rate=100)
    assert run_headless(QUICK, Recovery(False), tmp_path / "runs", stream=io.StringIO()) == 0
    (run,) = RunStore(tmp_path / "runs").run_dirs()
    return run.path


def event_file(run: Path, timeout: float = 10.0) -> Path:
    """The export runs in a thread of its own: wait for its file."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted((run / FOLDER).glob("events.out.tfevents.*.memtui"))
        if files:
            return files[-1]
        time.sleep(0.05)
    raise AssertionError(f"no event file in {run / FOLDER}")


def jsonl(run: Path, kind: str) -> list[dict]:
    lines = (run / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["type"] == kind]


def records(path: Path) -> list[bytes]:
    """TFRecord framing read by hand, checking both CRCs of every record."""
    data = path.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        head = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", head)
        assert struct.unpack("<I", data[pos + 8:pos + 12])[0] == masked_crc32c(head)
        body = data[pos + 12:pos + 12 + length]
        assert struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])[0] == masked_crc32c(body)
        out.append(body)
        pos += 16 + length
    return out


@pytest.mark.parametrize(("data", "crc"), [
    (b"", 0x00000000),
    (b"123456789", 0xE3069283),  # the standard check value of CRC-32C
    (bytes(32), 0x8A9136AA),  # RFC 3720 (iSCSI) B.4 test vectors
    (b"\xff" * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
    (bytes(range(31, -1, -1)), 0x113FDB5C),
])
def test_crc32c_matches_the_published_vectors(data: bytes, crc: int) -> None:
    assert crc32c(data) == crc


def test_crc32c_continues_across_calls() -> None:
    assert crc32c(b"56789", crc32c(b"1234")) == crc32c(b"123456789")


def test_csv_has_one_row_per_step_with_the_events_values(script, tmp_path: Path, capsys) -> None:
    run = finished_run(script, tmp_path)
    capsys.readouterr()

    assert main(["runs", "--runs-dir", str(tmp_path / "runs"), "--csv", "latest"]) == 0

    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    steps = jsonl(run, "step")
    assert len(rows) == len(steps) == 6
    assert list(rows[0])[:8] == ["run_id", "attempt", "epoch", "step", "global_step", "batch_size", "loss", "accuracy"]
    assert list(rows[0])[-4:] == ["step_seconds", "examples_per_second", "memory_peak_bytes", "time"]
    for row, step in zip(rows, steps, strict=True):
        assert row["run_id"] == run.name and row["attempt"] == "1"
        assert (int(row["epoch"]), int(row["step"]), int(row["batch_size"])) == (step["epoch"], step["step"], 8)
        assert float(row["loss"]) == pytest.approx(step["loss"])
        assert float(row["time"]) == pytest.approx(step["t"])
        assert int(row["memory_peak_bytes"]) == step["memory"]["peak"]


def test_csv_takes_a_run_id_or_a_folder_path(script, tmp_path: Path, capsys) -> None:
    run = finished_run(script, tmp_path)
    capsys.readouterr()
    outs = []
    for ref in (run.name, run.name[:15], str(run)):
        assert main(["runs", "--runs-dir", str(tmp_path / "runs"), "--csv", ref]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] == outs[2] and outs[0].count("\n") == 7


@pytest.mark.parametrize("ref", ["no-such-run", "latest", "/"])
def test_a_bad_run_is_one_line_and_exit_2(tmp_path: Path, capsys, ref: str) -> None:
    (tmp_path / "runs").mkdir()
    assert main(["runs", "--runs-dir", str(tmp_path / "runs"), "--csv", ref]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("memtui runs: ") and captured.err.count("\n") == 1, captured.err


def test_the_attempt_end_writes_a_tensorboard_file_and_the_command_rewrites_it(script, tmp_path: Path,
                                                                               capsys) -> None:
    run = finished_run(script, tmp_path)
    first = event_file(run)
    bodies = records(first)
    assert len(bodies) == 1 + len(jsonl(run, "step")) + len(jsonl(run, "epoch")), "the version header, steps, epochs"
    assert b"brain.Event:2" in bodies[0] and b"train/loss" in bodies[1] and b"memory/peak_bytes" in bodies[1]

    first.unlink()
    capsys.readouterr()
    assert main(["runs", "--runs-dir", str(tmp_path / "runs"), "--tensorboard", run.name]) == 0
    assert Path(capsys.readouterr().out.strip()) == first
    assert records(first) == bodies


@pytest.mark.tf
def test_tensorflow_reads_the_event_file_with_the_events_values(script, tmp_path: Path) -> None:
    run = finished_run(script, tmp_path)
    path = event_file(run)
    import tensorflow as tf

    read = list(tf.compat.v1.train.summary_iterator(str(path)))

    assert read[0].file_version == "brain.Event:2"
    scalars = [(e.step, e.wall_time, {v.tag: v.simple_value for v in e.summary.value}) for e in read[1:]]
    steps = jsonl(run, "step")
    train = [s for s in scalars if "train/loss" in s[2]]
    assert len(train) == len(steps)
    for number, ((step_no, wall, values), step) in enumerate(zip(train, steps, strict=True), 1):
        assert step_no == step.get("global_step", number) and wall == pytest.approx(step["t"])
        assert values["train/loss"] == pytest.approx(step["loss"], rel=1e-6)
        assert values["train/examples_per_second"] == pytest.approx(step["examples_per_second"], rel=1e-6)
        # simple_value is a float32: a byte count keeps about seven digits.
        assert values["memory/peak_bytes"] == pytest.approx(step["memory"]["peak"], rel=1e-6)
    epochs = [s for s in scalars if "epoch/loss" in s[2]]
    assert [e[2]["epoch/loss"] for e in epochs] == pytest.approx([e["metrics"]["loss"] for e in jsonl(run, "epoch")])
    assert [e[0] for e in epochs] == [3], "an epoch end is drawn at the epoch's last step"
