"""How right the diagnosis is over the whole corpus, as three figures.

OOM vs not: the verdict is an OOM kind exactly when the label is.
Kinds: the verdict's kind is the label's.
False OOMs: logs labelled not-OOM that the diagnosis calls an OOM.

`pytest -s tests/unit/test_diagnosis_accuracy.py` prints the figures and every miss.
"""

from __future__ import annotations

from typing import Any

from tests.unit.test_diagnosis_corpus import CASES, _id, _inputs
from tui.common.verdict import OOM_KINDS
from tui.diagnosis import diagnose

OOM_GOAL = 0.95
KIND_GOAL = 0.85


def _score(cases: list[dict[str, Any]]) -> dict[str, Any]:
    oom_right = kind_right = false_ooms = 0
    misses: list[str] = []
    for case in cases:
        verdict = diagnose(**_inputs(case))
        want_oom = case["kind"] in OOM_KINDS
        oom_right += verdict.is_oom == want_oom
        kind_right += verdict.kind == case["kind"]
        false_ooms += verdict.is_oom and not want_oom
        if verdict.kind != case["kind"]:
            misses.append(f"{_id(case)}: want {case['kind']}, got {verdict.kind}")
    n = len(cases)
    return {"n": n, "oom": oom_right / n, "kind": kind_right / n, "false_ooms": false_ooms, "misses": misses}


def _report(name: str, s: dict[str, Any]) -> str:
    return (f"{name}: {s['n']} cases, OOM vs not {s['oom']:.1%}, kinds {s['kind']:.1%}, "
            f"not-OOM logs called OOM: {s['false_ooms']}")


def test_the_diagnosis_meets_its_accuracy_goals_over_the_whole_corpus() -> None:
    whole = _score(CASES)
    public = _score([c for c in CASES if str(c.get("file", "")).startswith("public/")])
    print()
    print(_report("whole corpus", whole))
    print(_report("public/ (real logs from issue threads)", public))
    for miss in whole["misses"]:
        print("  miss:", miss)
    assert whole["false_ooms"] == 0, whole["misses"]
    assert whole["oom"] >= OOM_GOAL, whole["misses"]
    assert whole["kind"] >= KIND_GOAL, whole["misses"]
    # The real logs alone must meet the goals too, not ride on the composed ones.
    assert public["false_ooms"] == 0, public["misses"]
    assert public["oom"] >= OOM_GOAL, public["misses"]
    assert public["kind"] >= KIND_GOAL, public["misses"]
