"""A remedy memtui could not apply to the user's own script is said, never
pretended: the hook's `not_applied` records reach the verdict (its evidence and
details, so verdict.json and the headless JSON), `memtui runs` and the step
log. Unit tests of the reader first, then one real TensorFlow run through the
real command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from trainer.command import ScriptCommand
from trainer.config import RunConfig
from trainer.protocol import RunEnd, RunStart, decode, encode
from tui.common.verdict import FINISHED, Verdict
from tui.diagnosis import diagnose
from tui.diagnosis.refusals import from_record, from_verdict, late_lines, refusals, with_refusals
from tui.kinds import ACCUMULATION, BATCH, kind_of
from tui.kinds.script import learn
from tui.remedies.ladder import next_rung
from tui.runs.store import RunStore

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "tests" / "scripts"

ASKED = {"change": "grad-accum", "why": "the script sets its own gradient_accumulation_steps=4", "asked": True,
         "phase": None, "words": "gradient accumulation was asked for but not applied: the script sets its own "
                                 "gradient_accumulation_steps=4"}
OWN = {"change": "backup", "why": "the model is first built inside fit()", "asked": False, "phase": 1,
       "words": "memtui's resume backup off: the model is first built inside fit()"}


def start(*records: dict[str, Any]) -> RunStart:
    event = decode(encode("run_start", config={}, params=10, devices=[], tf_version="2.21.0", keras_version="3.15.1",
                          memory_growth=False, dataset={}, phase=1, not_applied=list(records)))
    assert isinstance(event, RunStart)
    return event


def end(*records: dict[str, Any]) -> RunEnd:
    event = decode(encode("run_end", status="finished", steps=3, not_applied=list(records)))
    assert isinstance(event, RunEnd)
    return event


def test_asked_refusals_come_first_and_each_is_counted_once() -> None:
    found = refusals([start(OWN, ASKED), end(ASKED, OWN)])
    assert [r.change for r in found] == ["grad-accum", "backup"]
    assert found[0].asked and not found[1].asked


@pytest.mark.parametrize("record", [None, "grad-accum", {}, {"change": "batch"}, {"change": 3, "why": "x"},
                                    {"change": "", "why": "x"}])
def test_a_malformed_record_is_skipped_not_raised(record: object) -> None:
    assert from_record(record) is None
    assert refusals([start(record)]) == ()  # type: ignore[arg-type]


def test_a_record_without_words_still_reads_as_a_sentence() -> None:
    r = from_record({"change": "batch", "why": "the mesh cannot split it", "asked": True, "phase": "x"})
    assert r is not None and r.phase is None
    assert r.words == "batch was asked for but not applied: the mesh cannot split it"


def test_the_verdict_leads_with_an_asked_refusal_and_keeps_every_record_in_its_details() -> None:
    plain = Verdict(kind=FINISHED, summary="Training finished after 3 steps.", evidence=("a log line",))
    told = with_refusals(plain, [start(ASKED, OWN)])
    assert told.evidence == (f"not applied: {ASKED['words']}", "a log line", f"not applied: {OWN['words']}")
    assert [r["change"] for r in told.details["not_applied"]] == ["grad-accum", "backup"]
    assert [r.words for r in from_verdict(told)] == [ASKED["words"], OWN["words"]]
    assert with_refusals(plain, [start()]) is plain, "nothing refused: the verdict is as it was"


def test_diagnose_carries_the_refusals_of_the_attempts_events() -> None:
    verdict = diagnose(exit_code=0, log_tail="", events=[start(ASKED), end(ASKED)])
    assert verdict.kind == FINISHED and verdict.evidence[0] == f"not applied: {ASKED['words']}"


def test_the_step_log_says_at_run_end_only_what_run_start_had_not() -> None:
    late = {"change": "batch", "why": "fit() failed at its start with memtui's batch; it ran again as written",
            "asked": True, "phase": 1, "words": "the batch change was asked for but not applied: fit() failed"}
    assert late_lines(end(ASKED, late), start(ASKED)) == [f"── not applied: {late['words']}"]
    assert late_lines(end(ASKED), None) == [f"── not applied: {ASKED['words']}"]


def script_config(**settings: Any) -> RunConfig:
    cmd = ScriptCommand(argv=("python", "train.py"), workdir="/tmp", set_batch=True)
    return RunConfig(script=cmd, **settings)


def test_what_the_header_shows_is_what_the_hook_put_in_force_not_what_was_asked() -> None:
    asked = script_config(grad_accum=2, mixed_precision=True)
    seen = learn(asked, {"batch_size": 32, "batch_control": "arrays", "grad_accum": 4, "dtype_policy": "float32",
                         "not_applied": [ASKED]})
    assert seen.grad_accum == 4 and seen.mixed_precision is False
    assert learn(asked, {"grad_accum": "x", "dtype_policy": 3}).grad_accum == 2, "unreadable fields change nothing"


def test_a_batch_the_hook_refused_greys_the_batch_keys_with_its_reason() -> None:
    why = "the script's keras.distribution mesh cannot split a batch of 48 over 4 devices"
    refused = {"change": "batch", "why": why, "asked": True, "phase": 1}
    seen = learn(script_config(batch_size=48), {"batch_size": 64, "batch_control": "arrays", "not_applied": [refused]})
    kind = kind_of(seen)
    assert not kind.allows(BATCH)
    assert kind.why_not(BATCH) == f"memtui could not set this script's batch: {why}"
    assert kind_of(learn(script_config(batch_size=48), {"batch_size": 48, "batch_control": "arrays"})).allows(BATCH)


def test_a_remedy_the_hook_refused_is_not_offered_again_by_a_key_or_the_ladder() -> None:
    """Asking again for what the script cannot take would relaunch into the same refusal."""
    seen = learn(script_config(batch_size=64, grad_accum=2),
                 {"batch_size": 64, "batch_control": "arrays", "grad_accum": 4, "not_applied": [ASKED]})
    kind = kind_of(seen)
    assert not kind.allows(ACCUMULATION) and kind.allows(BATCH)
    assert kind.why_not(ACCUMULATION) == ("memtui could not apply it to this script: the script sets its own "
                                          "gradient_accumulation_steps=4")
    climbed = []
    config = seen
    while (change := next_rung(config, climbed)) is not None and len(climbed) < 6:
        climbed.append(change.id)
        config = change.config
    assert "halve-batch-accum" not in climbed and "halve-batch" in climbed, climbed
    assert config.grad_accum == 4, "the ladder left the script's own accumulation alone"
    assert ScriptCommand.from_mapping(json.loads(seen.to_json())["script"]).refused == seen.script.refused


def memtui(work: Path, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEMTUI_RUNS_DIR": str(work.parent / "runs"), "PYTHONPATH": str(REPO),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "1"}
    return subprocess.run([sys.executable, "-m", "tui.cli", *argv], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=work, stdin=subprocess.DEVNULL)


@pytest.mark.tf
def test_grad_accum_asked_of_a_script_with_its_own_is_said_not_applied_everywhere(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(SCRIPTS / "mnist_arrays.py", work / "train.py")
    done = memtui(work, "run", "--headless", "--json", "--grad-accum", "2", "--",
                  "python", "train.py", "--accum", "4", "--samples", "64")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    fit = next(r["event"] for r in out if r["type"] == "event" and r["event"]["type"] == "run_start")
    record = next(r for r in fit["not_applied"] if r["change"] == "grad-accum")
    assert record["asked"] is True and "gradient_accumulation_steps=4" in record["why"]
    assert fit.get("grad_accum") in (None, 4), "the script's own accumulation stays, memtui's 2 is not applied"
    verdict = next(r["verdict"] for r in out if r["type"] == "verdict")
    assert verdict["kind"] == FINISHED
    assert verdict["evidence"][0].startswith("not applied: gradient accumulation was asked for but not applied")
    assert any(r["change"] == "grad-accum" for r in verdict["details"]["not_applied"])
    listing = memtui(work, "runs")
    assert "not applied: gradient accumulation was asked for but not applied" in listing.stdout, listing.stdout
    summary = json.loads(memtui(work, "runs", "--json").stdout.splitlines()[0])
    assert summary["config"] == "script b32 ×4", "the accumulation in force is the script's own 4, not the 2 asked"
    assert any("gradient_accumulation_steps=4" in words for words in summary["not_applied"])
    stored = RunStore(tmp_path / "runs").run_dirs()[0].verdict()
    assert stored is not None and from_verdict(stored)[0].change == "grad-accum"
