"""`--backend jax` without JAX: the flag, the remedies' environment on JAX,
the words that name the backend, memory readings from a device's own
statistics, and the warm spare that is of one backend only.

Fast: nothing here imports JAX or TensorFlow (test_jax_backend.py runs them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from tests.supervision import STAND_IN, Collector, script_env
from tests.waiting import wait_until
from trainer import backends, memreading
from trainer.config import ConfigError, OneLineParser, RunConfig, add_run_arguments, config_from_args
from trainer.oom import is_oom_text, parse_oom
from tui.diagnosis import diagnose
from tui.kinds import GPU_CAP, MEMORY_GROWTH, XLA, kind_of
from tui.kinds.words import header_words, sentence_words, table_words, tag_words
from tui.remedies.changes import toggle_memory_growth
from tui.remedies.ladder import next_rung
from tui.runs.store import RunStore
from tui.supervision.spare import import_env
from tui.supervision.supervisor import Supervisor

GIB = 1024**3
REPO = Path(__file__).resolve().parents[2]

# --- the flag -----------------------------------------------------------------


def test_backend_is_a_validated_run_option_defaulting_to_tensorflow() -> None:
    parser = OneLineParser(prog="t")
    add_run_arguments(parser)
    assert config_from_args(parser.parse_args([])).backend == "tensorflow"
    assert config_from_args(parser.parse_args(["--backend", "jax"])).backend == "jax"
    with pytest.raises(SystemExit):
        parser.parse_args(["--backend", "torch"])
    with pytest.raises(ConfigError, match="--backend: 'torch' is not one of tensorflow, jax"):
        RunConfig(backend="torch")
    with pytest.raises(ConfigError, match="--strategy mirrored is TensorFlow's"):
        RunConfig(backend="jax", strategy="mirrored")
    # config.json round trip; a run folder from before the field still loads, as TensorFlow.
    assert RunConfig.from_json(RunConfig(backend="jax").to_json()).backend == "jax"
    old = json.loads(RunConfig().to_json())
    del old["backend"]
    assert RunConfig.from_mapping(old).backend == "tensorflow"


def test_the_trainer_refuses_jax_in_one_line_when_jax_is_missing(tmp_path: Path) -> None:
    # A Python where `jax` cannot be found: the trainer says how to install it, exit 2, no import paid.
    code = ("import importlib.util, sys; real = importlib.util.find_spec\n"
            "importlib.util.find_spec = lambda name, *a: None if name == 'jax' else real(name, *a)\n"
            "from trainer.__main__ import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "--run-dir", str(tmp_path / "run"), "--backend", "jax"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "--backend jax: JAX is not installed" in proc.stderr and "memtui[jax]" in proc.stderr
    assert "tensorflow" not in proc.stderr.lower().replace("--backend", "")


# --- the remedies' environment on JAX --------------------------------------------


def test_memory_growth_on_jax_is_no_preallocation() -> None:
    env, notes = backends.jax_memory_env(True, None, None, {})
    assert env == {"XLA_PYTHON_CLIENT_PREALLOCATE": "false"} and notes == []


def test_a_gpu_cap_on_jax_is_a_fraction_of_the_gpus_total() -> None:
    env, notes = backends.jax_memory_env(False, 4096, 16 * GIB, {})
    assert env == {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.250"}
    assert notes == ["GPU memory cap 4096 MB of 16384 MB: XLA_PYTHON_CLIENT_MEM_FRACTION=0.250"]
    # Rounded down, so the cap is never exceeded; clamped to [0.01, 1].
    assert backends.memory_fraction(1000, 3 * GIB) == 0.325
    assert backends.memory_fraction(1, 80 * GIB) == 0.01
    assert backends.memory_fraction(99_999, 8 * GIB) == 1.0
    # jaxlib refuses both names at once: a newer name already set is the one overridden.
    env, _ = backends.jax_memory_env(False, 2048, 8 * GIB, {"XLA_CLIENT_MEM_FRACTION": ".9"})
    assert env == {"XLA_CLIENT_MEM_FRACTION": "0.250"}


def test_a_gpu_cap_without_a_gpu_is_a_note_not_a_variable() -> None:
    env, notes = backends.jax_memory_env(False, 512, None, {})
    assert env == {}
    assert notes == ["no GPU found: the 512 MB GPU memory cap has nothing to act on (on JAX it is "
                     "XLA_PYTHON_CLIENT_MEM_FRACTION, a fraction of the GPU's total memory)"]
    assert backends.gpu_total_bytes() is None  # this machine has no NVIDIA driver library


def test_the_trainer_sets_the_backend_and_its_variables_before_importing(monkeypatch: pytest.MonkeyPatch) -> None:
    from trainer import memory

    for name in ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL", "TF_FORCE_GPU_ALLOW_GROWTH", *backends.JAX_ENV):
        # setenv first, so monkeypatch records the variable's state and removes what the
        # trainer sets here afterwards (a delenv of an unset variable records nothing, and
        # the cap's fraction leaked into later tests of the same worker)
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("KERAS_BACKEND", "torch")  # inherited: the flag decides
    kept_out: list[bool] = []  # (the real one would keep JAX out of this test process too)
    monkeypatch.setattr(backends, "keep_jax_out", lambda: kept_out.append(True))
    assert memory.prepare_environment(RunConfig()) == []
    assert memory.os.environ["KERAS_BACKEND"] == "tensorflow" and kept_out == [True]
    assert "XLA_PYTHON_CLIENT_PREALLOCATE" not in memory.os.environ

    monkeypatch.setattr(backends, "gpu_total_bytes", lambda environ=None: 10 * GIB)
    notes = memory.prepare_environment(RunConfig(backend="jax", gpu_memory_limit=2560))
    assert memory.os.environ["KERAS_BACKEND"] == "jax"
    assert memory.os.environ["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.250" and notes
    memory.prepare_environment(RunConfig(backend="jax", memory_growth=True))
    assert memory.os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert kept_out == [True]  # JAX is kept out only on TensorFlow


def test_remedies_speak_the_backends_terms_and_xla_is_no_switch_on_jax() -> None:
    jax = RunConfig(backend="jax", batch_size=64, model="large")
    assert "XLA_PYTHON_CLIENT_PREALLOCATE=false" in toggle_memory_growth(jax).reason
    assert "TensorFlow" in toggle_memory_growth(RunConfig()).reason
    kind = kind_of(jax)
    assert kind.allows(MEMORY_GROWTH) and kind.allows(GPU_CAP)  # each has a JAX meaning
    assert not kind.allows(XLA) and "compiled by XLA" in kind.why_not(XLA)
    assert kind_of(RunConfig()).why_not(XLA) == "the built-in trainer does not use XLA"
    # The ladder on JAX climbs the same rungs, growth first for a device OOM.
    assert next_rung(jax, []).id == "memory-growth"


def test_a_jax_device_oom_of_the_built_in_trainer_offers_growth_as_its_key() -> None:
    """The trainer turns growth on itself on JAX, so the verdict keeps the
    remedy with a key (in JAX's words) rather than advice to set a variable."""
    text = "jax.errors.JaxRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate 6727663616 bytes."
    verdict = diagnose(exit_code=3, log_tail=text, config=RunConfig(backend="jax"))
    ids = [r.id for r in verdict.remedies]
    assert "memory-growth" in ids and "jax-preallocate" not in ids
    growth = next(r for r in verdict.remedies if r.id == "memory-growth")
    assert "XLA_PYTHON_CLIENT_PREALLOCATE=false" in growth.title and "JAX" in growth.why
    # A JAX log with no config (memtui diagnose on a pasted log) still gets the variables.
    bare = [r.id for r in diagnose(exit_code=None, log_tail=text).remedies]
    assert "jax-preallocate" in bare


def test_xlas_cpu_client_out_of_memory_is_host_memory() -> None:
    text = "RESOURCE_EXHAUSTED: Out of memory allocating 3340857192 bytes."
    assert is_oom_text(text)
    assert is_oom_text("INTERNAL: Error dispatching computation: Out of memory allocating 8 bytes")
    assert parse_oom(text, "JaxRuntimeError", "CPU:0") == {
        "device": "CPU:0", "requested_bytes": 3340857192, "kind": "host", "message": text}
    assert parse_oom("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 9 bytes.", "JaxRuntimeError",
                     "GPU:0")["kind"] == "device"
    verdict = diagnose(exit_code=3, log_tail="jax.errors.JaxRuntimeError: " + text,
                       config=RunConfig(backend="jax", host_memory_limit=5120))
    assert verdict.kind == "host-oom" and verdict.remedies[0].id == "halve-batch"


# --- the backend in words -----------------------------------------------------------


def test_every_view_names_a_backend_other_than_tensorflow() -> None:
    jax = RunConfig(backend="jax", batch_size=16)
    assert header_words(jax).startswith("Keras on JAX · model small")
    assert table_words(jax).startswith("jax small b16")
    assert tag_words(jax).startswith("jax small b16")  # memtui runs cuts this at 24 characters
    assert sentence_words(jax).startswith("Keras on JAX, model small")
    plain = RunConfig()
    assert "JAX" not in header_words(plain) + sentence_words(plain) and "jax" not in table_words(plain)


def test_runs_json_carries_the_backend(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    store.new_run(RunConfig(backend="jax"), session="s", attempt=1, reason="launch", trainer_module="trainer")
    (summary,) = store.list_runs()
    assert summary.backend == "jax" and summary.to_dict()["backend"] == "jax"


# --- memory from the device's own statistics ------------------------------------------------


class _Device:
    def __init__(self, platform: str, id: int, stats: dict[str, int] | None) -> None:
        self.platform, self.id, self.stats, self.device_kind = platform, id, stats, platform

    def memory_stats(self) -> dict[str, int] | None:
        return self.stats


def _fake_jax(monkeypatch: pytest.MonkeyPatch, devices: list[_Device]) -> None:
    keras = types.SimpleNamespace(backend=types.SimpleNamespace(backend=lambda: "jax"))
    monkeypatch.setitem(sys.modules, "keras", keras)
    monkeypatch.setitem(sys.modules, "jax", types.SimpleNamespace(local_devices=lambda: devices))


def test_jax_gpu_memory_comes_from_the_devices_own_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    stats = {"bytes_in_use": 3 * GIB, "peak_bytes_in_use": 5 * GIB, "bytes_limit": 12 * GIB}
    _fake_jax(monkeypatch, [_Device("gpu", 0, stats), _Device("gpu", 1, dict(stats, peak_bytes_in_use=GIB))])
    reading = memreading.MemoryReader().read()
    assert reading == {"GPU:0": {"current": 3 * GIB, "peak": 5 * GIB, "limit": 12 * GIB},
                       "GPU:1": {"current": 3 * GIB, "peak": GIB, "limit": 12 * GIB}}
    assert memreading.MemoryReader.peak_of(reading) == 5 * GIB


def test_jax_on_a_cpu_only_host_reads_the_process_rss(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_jax(monkeypatch, [_Device("cpu", 0, None)])
    # TensorFlow, there for tf.data, must not be asked on the JAX backend (it would start on the GPU).
    monkeypatch.setitem(sys.modules, "tensorflow", types.SimpleNamespace())
    reading = memreading.MemoryReader().read()
    assert set(reading) == {"cpu_rss", "cpu_rss_peak"} and reading["cpu_rss"] > 0


# --- the warm spare is of one backend ------------------------------------------------------------


def test_a_spare_imports_keras_on_the_backend_of_the_attempt_it_was_started_beside() -> None:
    assert import_env(RunConfig(backend="jax"), {"KERAS_BACKEND": "torch"})["KERAS_BACKEND"] == "jax"
    assert import_env(RunConfig(), {})["KERAS_BACKEND"] == "tensorflow"
    assert import_env(None, {"KERAS_BACKEND": "jax"})["KERAS_BACKEND"] == "jax"
    # JAX's memory variables are read when its GPU client starts, after the hand-over: no cold start for them.
    assert "XLA_PYTHON_CLIENT_PREALLOCATE" not in import_env(RunConfig(backend="jax", memory_growth=True), {})


def test_a_jax_attempt_never_gets_a_tensorflow_spare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script_env(monkeypatch, steps=3, rate=100)
    sink = Collector()
    sup = Supervisor(RunStore(tmp_path / "runs"), trainer_module=STAND_IN, sink=sink)  # type: ignore[arg-type]
    try:
        sink.wait_ended(sup.launch(RunConfig(epochs=1)).run_id)
        spare = wait_until(lambda: sup.spare, what="a spare")
        assert spare.wait_ready(30)
        info = sup.launch(RunConfig(epochs=1, backend="jax"))
        sink.wait_ended(info.run_id)
    finally:
        sup.close()
    assert not info.spare
    assert info.cold_reason == ("KERAS_BACKEND changed (tensorflow → jax), and Keras chooses its backend when it "
                                "is imported")


PICK_JAX_PROBE = """
import json, os, sys
from types import SimpleNamespace
from _memtui_hook import devices
from _memtui_hook.state import HookState
state = HookState(settings=SimpleNamespace(gpu_memory_limit=1000, gpu_memory_fraction=None, memory_growth=False,
                                           fault=None), writer=None)
devices.after_jax(None, state)
notes = state.notes + [r.words() for r in state.ledger.refusals]
print(json.dumps({"notes": notes, "fraction": os.environ.get("XLA_PYTHON_CLIENT_MEM_FRACTION")}))
"""


@pytest.mark.parametrize(("how", "on_jax"), [("env-tensorflow", False), ("keras-json-tensorflow", False),
                                             ("keras-json-jax", True), ("env-jax", True)])
def test_the_hooks_jax_cap_acts_only_when_keras_will_pick_jax(tmp_path: Path, how: str, on_jax: bool) -> None:
    """TensorFlow imports JAX when it is installed: a TensorFlow script's cap must stay TensorFlow's."""
    from trainer.hookspec import BOOT_DIR

    home = tmp_path / "keras"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("KERAS_BACKEND", "MEMTUI_HOOK", *backends.JAX_ENV)}
    env.update(PYTHONPATH=str(BOOT_DIR), KERAS_HOME=str(home))
    source, backend = how.rsplit("-", 1)
    if source == "env":
        env["KERAS_BACKEND"] = backend
    else:
        (home / "keras.json").write_text(json.dumps({"backend": backend}))
    done = subprocess.run([sys.executable, "-c", PICK_JAX_PROBE], env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    acted = bool(seen["notes"]) or seen["fraction"] is not None
    assert acted == on_jax, seen
