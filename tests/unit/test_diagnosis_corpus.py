"""Every log in tests/corpus/ gives the verdict kind listed in expected.toml.

The corpus holds real logs captured on this machine (tests/corpus/capture.py)
and logs composed from TensorFlow's own message strings, OOMs and look-alikes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from trainer.config import RunConfig
from tui.common.verdict import OOM_KINDS
from tui.diagnosis import diagnose, tail_text
from tui.diagnosis.runfolder import diagnosis_inputs
from tui.telemetry.snapshot import GpuDevice, GpuProcess, HostMemory, Snapshot

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10 only
    import tomli as tomllib

CORPUS = Path(__file__).parents[1] / "corpus"
CASES: list[dict[str, Any]] = tomllib.loads((CORPUS / "expected.toml").read_text())["case"]


def _baseline(case: dict[str, Any]) -> Snapshot | None:
    if "others" not in case:
        return None
    total = case["gpu_total"]
    procs = tuple(GpuProcess(p["pid"], p["name"], "someone", p["bytes"], False) for p in case["others"])
    used = sum(p["bytes"] for p in case["others"])
    gpu = GpuDevice(0, "GPU", total, used, total - used, 0, 0, None, used, procs)
    return Snapshot(0.0, (gpu,), HostMemory(24 << 30, 20 << 30, 0, 0), None, "ok")


def _inputs(case: dict[str, Any]) -> dict[str, Any]:
    if "run" in case:
        return diagnosis_inputs(CORPUS / case["run"])
    return {
        "exit_code": case.get("exit_code"),
        "log_tail": tail_text(CORPUS / case["file"]),
        "config": RunConfig(**case["config"]) if "config" in case else None,
        "baseline": _baseline(case),
        "peak_rss": case.get("peak_rss"),
        "host_total": case.get("host_total"),
    }


def _id(case: dict[str, Any]) -> str:
    return f"{case.get('file') or case['run']}@{case.get('exit_code')}"


def _param(case: dict[str, Any]) -> Any:
    # A known miss keeps its honest label (what its thread concluded) and is
    # expected to fail until the diagnosis gets it right; strict, so a fix shows.
    marks = [pytest.mark.xfail(strict=True, reason=case["known_miss"])] if "known_miss" in case else []
    return pytest.param(case, id=_id(case), marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_each_corpus_log_gives_its_expected_kind(case: dict[str, Any]) -> None:
    verdict = diagnose(**_inputs(case))
    assert verdict.kind == case["kind"], verdict.summary
    assert verdict.summary.endswith("."), "the summary is one plain sentence"
    assert len(verdict.evidence) <= 5
    if "backend" in case:
        assert verdict.details.get("backend") == case["backend"], verdict.details


def test_the_corpus_files_exist_and_every_file_is_listed() -> None:
    listed = {c["file"] for c in CASES if "file" in c} | {c["run"] for c in CASES if "run" in c}
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*.log")}
    on_disk |= {str(p.relative_to(CORPUS)) for p in (CORPUS / "trainer").iterdir() if p.is_dir()}
    assert on_disk == listed


def test_the_corpus_holds_both_oom_and_look_alike_logs() -> None:
    kinds = [c["kind"] for c in CASES]
    assert sum(k in OOM_KINDS for k in kinds) >= 10
    assert sum(k not in OOM_KINDS for k in kinds) >= 10


@pytest.mark.parametrize("name", ["freed_by_count_finished", "startup_retry_finished", "gc_warning_finished",
                                  "ten_percent_then_sigkill"])
@pytest.mark.parametrize("exit_code", [None, 0, 1, -9, 137, 4])
def test_non_fatal_memory_messages_alone_never_make_an_oom_verdict(name: str, exit_code: int | None) -> None:
    verdict = diagnose(exit_code=exit_code, log_tail=tail_text(CORPUS / "tf" / f"{name}.log"))
    assert not verdict.is_oom, verdict.summary
