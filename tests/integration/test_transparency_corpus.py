"""Issue 20, item 3: real Keras training scripts, written outside this project
(keras-io guides and examples, tests/transparency/SOURCES.md), run alone and under
`memtui run --headless --json` must end the same.

Each script runs twice at once, `python SCRIPT` in a fresh folder and `memtui run
--headless --json --no-spare -- python SCRIPT` in another, and the test asserts:
the same exit status; the same files (names, and the content of every file for
the seeded scripts, a `.keras` archive without its save time); the same output
lines (what tests/transparency/corpus.py normalises, and why, is in its
docstring); for every fit()-based script, step events carrying the metric names
the script itself printed, and no hook error. The remedy flags are tried on
representative scripts: each is either seen applied in the run's events or
refused with a `not_applied` record that says why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.transparency.corpus import (
    SCRIPTS,
    Outcome,
    comparable,
    output_difference,
    printed_metric_names,
    run_both,
    run_memtui,
)

pytestmark = [pytest.mark.tf, pytest.mark.e2e]


@dataclass(frozen=True)
class Spec:
    returncode: int = 0
    fits: bool = True  # trains with fit() (a script with only a loop has no step events to check)
    fails_at: str | None = None  # the script's own line its traceback must name, for a script that fails
    varying: tuple[str, ...] = ()  # files whose content differs between two runs alone (said why in SOURCES.md)


CORPUS: dict[str, Spec] = {
    "addition_rnn.py": Spec(),
    "antirectifier.py": Spec(),
    "bidirectional_lstm_imdb.py": Spec(),
    "built_in_methods_a.py": Spec(),
    "built_in_methods_b.py": Spec(),
    "custom_loop_jax.py": Spec(returncode=1, fits=False, fails_at="loss, state = train_step(state, data)"),
    "custom_loop_tf.py": Spec(fits=False),
    "custom_train_step_jax.py": Spec(),
    "custom_train_step_tf.py": Spec(),
    "distribution_jax.py": Spec(),
    "functional_api_multi_io.py": Spec(),
    "imbalanced_classification.py": Spec(),
    "mirrored_strategy_tf.py": Spec(),
    "mixed_precision_tf.py": Spec(),
    "mnist_convnet.py": Spec(),
    "mnist_convnet_generator.py": Spec(),
    "subclassed_vae.py": Spec(),
    "text_classification.py": Spec(),
    "text_classification_transformer.py": Spec(),
    "timeseries_classification.py": Spec(),
    "timeseries_transformer.py": Spec(),
    "trainer_pattern.py": Spec(),
    "transfer_learning.py": Spec(),
    "vae_custom_train_step.py": Spec(),
    "working_with_rnns.py": Spec(returncode=1, fails_at="i2 = input_shapes[1][1]"),
    "writing_your_own_callbacks.py": Spec(returncode=1, fails_at="self.best = np.Inf"),
}


def test_every_corpus_script_is_listed_once() -> None:
    on_disk = sorted(p.name for p in SCRIPTS.glob("*.py"))
    assert on_disk == sorted(CORPUS)
    sources = (SCRIPTS.parent / "SOURCES.md").read_text()
    for name in on_disk:
        assert f"`{name}`" in sources, f"{name} has no row in SOURCES.md"
        assert "# memtui-corpus:" in (SCRIPTS / name).read_text() or name in sources


def same_files(alone: Outcome, hooked: Outcome, varying: tuple[str, ...]) -> list[str]:
    """What differs between the files the two runs wrote ([] when nothing)."""
    a, b = alone.files(), hooked.files()
    if sorted(a) != sorted(b):
        return [f"only alone: {sorted(set(a) - set(b))}", f"only under memtui: {sorted(set(b) - set(a))}"]
    return [name for name in a if name not in varying and comparable(a[name]) != comparable(b[name])]


def traceback_line(output: str, needle: str) -> str | None:
    """The `File "...scripts/NAME", line N` frame whose next line is `needle`."""
    lines = output.splitlines()
    for i, line in enumerate(lines[:-1]):
        if "/transparency/scripts/" in line and lines[i + 1].strip() == needle:
            return line.strip()
    return None


def check_steps(hooked: Outcome, alone_output: str) -> None:
    starts, steps, ends = hooked.events("run_start"), hooked.events("step"), hooked.events("run_end")
    assert starts and steps, f"no run_start/step events under memtui: {[e['type'] for e in hooked.events()]}"
    printed = printed_metric_names(alone_output)
    for phase in {s["phase"] for s in starts}:
        phase_steps = [s for s in steps if s["phase"] == phase]
        assert phase_steps, f"fit() call {phase} has no step event"
        names = set().union(*(s["metrics"] for s in phase_steps))
        assert names, f"fit() call {phase}: its steps carry no metrics"
        if printed:  # a script that trains with verbose=0 printed no names to compare with
            assert names <= printed | {"learning_rate"}, (phase, names - printed, printed)
    for end in ends:
        assert not end.get("hook_errors"), end["hook_errors"]


@pytest.mark.parametrize("script", sorted(CORPUS))
def test_script_ends_the_same_alone_and_under_memtui(script: str, tmp_path: Path) -> None:
    spec = CORPUS[script]
    alone, hooked = run_both(script, tmp_path)
    assert alone.returncode == spec.returncode, f"alone: exit {alone.returncode}\n{alone.output[-4000:]}"
    assert hooked.returncode == alone.returncode, f"under memtui: exit {hooked.returncode}\n{hooked.output[-4000:]}"
    difference = output_difference(alone.output, hooked.output)
    assert not difference, difference
    assert same_files(alone, hooked, spec.varying) == []
    if spec.fails_at is not None:  # its own error, at its own line, under memtui too
        frames = [traceback_line(outcome.output, spec.fails_at) for outcome in (alone, hooked)]
        assert frames[0] is not None and frames[0] == frames[1], (frames, hooked.output[-3000:])
        line = re.search(r"line (\d+)", frames[0])
        verdict = next(r for r in hooked.records if r.get("type") == "verdict")
        evidence = " ".join(verdict["verdict"].get("evidence") or ())
        assert line is not None and f"{script}:{line.group(1)}" in evidence, verdict
    if spec.fits:
        check_steps(hooked, alone.output)


# ---- the remedy flags ---------------------------------------------------------------------------------------------


def applied_or_refused(run: Outcome, change: str, applied: Callable[[dict[str, Any]], bool]) -> None:
    """Every fit() call either shows the remedy applied in its run_start, or the
    run carries an asked-for `not_applied` record for it with a reason."""
    starts = run.events("run_start")
    assert starts, [r.get("type") for r in run.records][-20:]
    refused = {r["phase"] for r in run.not_applied() if r["change"] == change and r["asked"] and r["why"]}
    whole_process = None in refused
    for start in starts:
        assert applied(start) or whole_process or start["phase"] in refused, (change, start, run.not_applied())


BATCH_16 = ("--batch-size", "16")


def batch(n: int) -> Callable[[dict[str, Any]], bool]:
    return lambda start: start["batch_size"] == n


def policy(start: dict[str, Any]) -> bool:
    return start["dtype_policy"] == "mixed_float16"


def accumulates(start: dict[str, Any]) -> bool:
    return start["grad_accum"] == 2


def no_xla(start: dict[str, Any]) -> bool:
    return start["jit_compile"] is False


def growth(start: dict[str, Any]) -> bool:
    return start["memory_growth"] is True


# (script, flags, the ledger's change id, how run_start shows it applied). Chosen to reach every kind of
# input (arrays, tf.data, a mapped TextVectorization pipeline, PyDataset, a keras.distribution mesh), a
# subclassed model first built inside fit(), a model load_model() restored, a strategy scope, and a
# script that sets its own dtype policy.
REMEDIES: list[tuple[str, tuple[str, ...], str, Callable[[dict[str, Any]], bool]]] = [
    ("mnist_convnet.py", BATCH_16, "batch", batch(16)),
    ("mnist_convnet_generator.py", BATCH_16, "batch", batch(16)),  # a generator: refused, with the reason
    ("text_classification.py", BATCH_16, "batch", batch(16)),
    ("trainer_pattern.py", BATCH_16, "batch", batch(16)),
    ("distribution_jax.py", ("--batch-size", "12"), "batch", batch(12)),
    ("mixed_precision_tf.py", ("--mixed-precision",), "mixed-precision", policy),
    ("subclassed_vae.py", ("--mixed-precision",), "mixed-precision", policy),
    ("mirrored_strategy_tf.py", ("--grad-accum", "2"), "grad-accum", accumulates),
    ("custom_train_step_jax.py", ("--grad-accum", "2"), "grad-accum", accumulates),
    ("text_classification.py", ("--no-xla",), "jit-compile", no_xla),
    ("timeseries_classification.py", ("--memory-growth",), "memory-growth", growth),
]


@pytest.mark.parametrize(("script", "flags", "change", "applied"), REMEDIES,
                         ids=[f"{s}{''.join(f)}" for s, f, _, _ in REMEDIES])
def test_a_remedy_flag_is_applied_or_refused_with_a_reason(script: str, flags: tuple[str, ...], change: str,
                                                          applied: Callable[[dict[str, Any]], bool],
                                                          tmp_path: Path) -> None:
    run = run_memtui(script, tmp_path, flags)
    assert run.returncode == CORPUS[script].returncode, run.output[-4000:]
    applied_or_refused(run, change, applied)
    for end in run.events("run_end"):
        assert not end.get("hook_errors"), end["hook_errors"]
