"""`memtui diagnose` through its real entry point, as a user runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tui.cli import main

CORPUS = Path(__file__).parents[1] / "corpus"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_readable_verdict_for_a_saved_log(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(CORPUS / "tf" / "masked_dst_tensor.log"), "--exit-code", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("masked-oom: Copying data to the GPU failed")
    assert "evidence:" in out and "Dst tensor is not initialized." in out
    assert "1. feed the data through tf.data" in out


def test_json_has_kind_summary_evidence_remedies(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(CORPUS / "real" / "rlimit_fill_resource_exhausted.log"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "host-oom"
    assert data["details"]["shape"] == "[2048,256,256,32]"
    assert {"kind", "summary", "evidence", "remedies", "details"} <= set(data)
    assert all({"id", "title", "why", "key"} <= set(r) for r in data["remedies"])


def test_the_exit_code_changes_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    log = str(CORPUS / "real" / "sigkill_mid_run.log")
    main(["diagnose", log, "--exit-code", "137", "--json"])
    assert json.loads(capsys.readouterr().out)["kind"] == "killed"
    main(["diagnose", log, "--exit-code", "0", "--json"])
    assert json.loads(capsys.readouterr().out)["kind"] == "finished"


def test_a_run_folder_uses_its_events_exit_status_and_config(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(CORPUS / "trainer" / "trainer_host_oom", run)
    assert main(["diagnose", str(run), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "host-oom"
    assert "--host-memory-limit of 4096 MB" in data["summary"]
    assert data["remedies"][0]["title"] == "halve the batch 512 → 256"


def test_a_stored_run_is_found_by_its_id_a_prefix_or_latest(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(CORPUS / "trainer" / "trainer_host_oom", runs / "20261207-120000-abcd")
    for ref in ("20261207-120000-abcd", "20261207-12", "latest"):
        assert main(["diagnose", ref, "--runs-dir", str(runs)]) == 0, ref
        assert capsys.readouterr().out.startswith("host-oom: "), ref
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "diagnose", "nope", "--runs-dir", str(runs)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "no run 'nope'" in proc.stderr and len(proc.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p / "missing.log", "does not exist"),
        (lambda p: p, "is a folder without trainer.log"),
        (lambda p: _write(p / "core", b"\x7fELF\x02\x01\x00\x00"), "is binary"),
    ],
    ids=["missing", "plain-folder", "binary"],
)
def test_a_bad_log_argument_is_one_line_and_exit_2(tmp_path: Path, make, words: str) -> None:
    path = make(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "diagnose", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert words in proc.stderr and "Traceback" not in proc.stderr


def test_an_unreadable_log_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "secret.log"
    path.write_text("OOM when allocating tensor\n")
    path.chmod(0)
    try:
        if path.open("rb"):  # root reads anything; nothing to test then
            pytest.skip("running as root: permissions do not apply")
    except PermissionError:
        pass
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "diagnose", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "cannot read" in proc.stderr and "Traceback" not in proc.stderr
