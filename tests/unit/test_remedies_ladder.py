"""Remedies are pure functions on RunConfig, one Remedy object each in one table; the ladder climbs them in order."""

from __future__ import annotations

import pytest

from trainer.config import RunConfig
from tui.common.verdict import HOST_OOM
from tui.diagnosis.rank import rank
from tui.remedies.changes import (
    Change,
    NoRemedy,
    double_accumulation,
    halve_batch,
    toggle_memory_growth,
    toggle_mixed_precision,
    toggle_model,
)
from tui.remedies.ladder import LADDER, next_rung
from tui.remedies.table import BY_KEY, BY_LADDER, REMEDIES
from tui.ui.widgets.keys import REMEDY_KEYS


def test_halving_the_batch_says_the_numbers() -> None:
    change = halve_batch(RunConfig(batch_size=32))
    assert change.config.batch_size == 16
    assert change.config.grad_accum == 1
    assert change.reason == "halve the batch 32 → 16"


def test_halving_while_keeping_the_effective_batch_doubles_accumulation() -> None:
    change = halve_batch(RunConfig(batch_size=64), keep_effective=True)
    assert (change.config.batch_size, change.config.grad_accum) == (32, 2)
    assert change.config.effective_batch == 64
    assert change.reason == "halve the batch 64 → 32, accumulate ×2: effective batch stays 64"


def test_an_odd_batch_says_the_effective_batch_changes() -> None:
    change = halve_batch(RunConfig(batch_size=33), keep_effective=True)
    assert "effective batch 33 → 32" in change.reason


def test_a_batch_of_one_cannot_be_halved() -> None:
    with pytest.raises(NoRemedy, match="already 1"):
        halve_batch(RunConfig(batch_size=1))


def test_accumulation_is_refused_with_the_mirrored_strategy() -> None:
    with pytest.raises(NoRemedy, match="mirrored"):
        double_accumulation(RunConfig(strategy="mirrored"))
    with pytest.raises(NoRemedy, match="mirrored"):
        halve_batch(RunConfig(strategy="mirrored"), keep_effective=True)


def test_doubling_accumulation_doubles_the_effective_batch() -> None:
    change = double_accumulation(RunConfig(batch_size=16, grad_accum=2))
    assert change.config.grad_accum == 4
    assert "effective batch 32 → 64" in change.reason


def test_memory_growth_on_drops_the_gpu_memory_cap_it_conflicts_with() -> None:
    change = toggle_memory_growth(RunConfig(gpu_memory_limit=4096))
    assert change.config.memory_growth is True
    assert change.config.gpu_memory_limit is None
    assert "4096 MB" in change.reason
    assert toggle_memory_growth(change.config).config.memory_growth is False


def test_toggling_the_model_names_both_parameter_counts() -> None:
    change = toggle_model(RunConfig(model="large"))
    assert change.config.model == "small"
    assert change.reason == "switch to the reduced CNN (8.4 M parameters instead of 33.7 M)"
    assert toggle_model(change.config).config.model == "large"


def test_mixed_precision_toggles_both_ways() -> None:
    on = toggle_mixed_precision(RunConfig())
    assert on.config.mixed_precision and "half" in on.reason
    assert toggle_mixed_precision(on.config).config.mixed_precision is False


def _climb(cfg: RunConfig, min_batch: int, kind: str | None = None) -> list[Change]:
    tried: list[str] = []
    steps: list[Change] = []
    while (change := next_rung(cfg, tried, min_batch, kind=kind)) is not None:
        steps.append(change)
        tried.append(change.id)
        cfg = change.config
        assert len(steps) < 50, "the ladder must end"
    return steps


def test_the_default_ladder_runs_in_the_documented_order_and_ends() -> None:
    steps = _climb(RunConfig(model="large", batch_size=64), min_batch=8)
    assert [s.id for s in steps] == [
        "memory-growth", "halve-batch-accum", "mixed-precision", "small-model",
        "halve-batch", "halve-batch",
    ]
    last = steps[-1].config
    assert (last.batch_size, last.grad_accum, last.model) == (8, 2, "small")
    assert steps[1].reason == "halve the batch 64 → 32, accumulate ×2: effective batch stays 64"


def test_the_ladder_skips_rungs_that_change_nothing() -> None:
    cfg = RunConfig(model="small", memory_growth=True, mixed_precision=True, batch_size=16)
    assert [s.id for s in _climb(cfg, min_batch=4)] == ["halve-batch-accum", "halve-batch"]


def test_the_ladder_is_exhausted_at_the_minimum_batch() -> None:
    cfg = RunConfig(model="small", memory_growth=True, mixed_precision=True, batch_size=4)
    assert next_rung(cfg, ["halve-batch-accum"], min_batch=4) is None


def test_a_host_oom_ladder_skips_gpu_memory_growth() -> None:
    steps = _climb(RunConfig(batch_size=8), min_batch=2, kind=HOST_OOM)
    assert "memory-growth" not in [s.id for s in steps]


def test_remedies_never_change_the_config_they_were_given() -> None:
    cfg = RunConfig(batch_size=32)
    halve_batch(cfg, keep_effective=True)
    toggle_memory_growth(cfg)
    assert cfg == RunConfig(batch_size=32)


# --- one Remedy object per remedy: the table that the keys, the ladder and the diagnosis read ---------


def test_the_key_and_the_ladder_halve_the_batch_differently_under_distinct_ids() -> None:
    cfg = RunConfig(batch_size=64, grad_accum=1)
    by_key = REMEDIES["halve-batch"].change(cfg, BY_KEY)
    assert by_key.id == "halve-batch" and (by_key.config.batch_size, by_key.config.grad_accum) == (32, 1)
    climbed = REMEDIES["halve-batch-accum"].change(cfg, BY_LADDER)
    assert climbed.id == "halve-batch-accum" and (climbed.config.batch_size, climbed.config.grad_accum) == (32, 2)
    assert REMEDY_KEYS["halve-batch"].key == "b" and "halve-batch-accum" not in REMEDY_KEYS


def test_a_key_toggles_a_remedy_and_the_ladder_only_turns_it_on() -> None:
    on = RunConfig(memory_growth=True, mixed_precision=True)
    growth, precision = REMEDIES["memory-growth"], REMEDIES["mixed-precision"]
    assert growth.change(on, BY_KEY).config.memory_growth is False
    assert precision.change(on, BY_KEY).config.mixed_precision is False
    with pytest.raises(NoRemedy, match="memory growth is already on"):
        growth.change(on, BY_LADDER)
    with pytest.raises(NoRemedy, match="mixed precision is already on"):
        precision.change(on, BY_LADDER)
    assert growth.offer("device-oom", {}, on) is None, "the diagnosis does not offer what is on already"


def test_a_remedy_the_run_kind_cannot_have_says_why_and_is_not_offered() -> None:
    builtin = RunConfig(model="large")
    with pytest.raises(NoRemedy, match="does not use XLA"):
        REMEDIES["xla-off"].change(builtin)
    assert REMEDIES["xla-off"].offer("xla-oom", {}, builtin) is None
    offered = REMEDIES["small-model"].offer("device-oom", {}, builtin)
    assert offered is not None and offered.title.startswith("switch to the reduced CNN")


def test_every_id_the_keys_the_ladder_and_the_diagnosis_name_is_in_the_table() -> None:
    assert set(REMEDY_KEYS) <= set(REMEDIES)
    assert set(LADDER) <= set(REMEDIES)
    for kind in ("device-oom", "xla-oom", "async-allocator-oom", "other-processes", "masked-oom", "probable-oom",
                 "host-oom", "library-error"):
        for remedy in rank(kind, {}, None, True) + rank(kind, {}, RunConfig(model="large"), False):
            assert remedy.id in REMEDIES, (kind, remedy.id)
    assert "other-processes" in [r.id for r in rank("other-processes", {}, None, True)]
    assert "async-allocator" in [r.id for r in rank("async-allocator-oom", {}, None, True)]
