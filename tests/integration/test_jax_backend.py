"""Keras 3 on the real JAX backend (CPU jaxlib), on tiny data and a few steps.

Each start-up costs a few seconds of TensorFlow and JAX importing, so there
are few: the built-in trainer headless to a finished run, a real host
out-of-memory error recovered by halving the batch (two attempts), a stop in
the middle of JAX's step and the resume after it, and a user's own script
under the script hook (its remedies, its stop). The monitor itself never imports JAX
(test_boundary_tui.py, and the import-linter contract).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from scripthook_run import hooked_env, run_and_interrupt, run_script, steps, user_env

from tests.tinydata import JAX_OOM_BATCH, JAX_OOM_LIMIT_MB, OOM_IMAGE_SIZE, make_image_folder
from tests.waiting import wait_until
from trainer.config import RunConfig
from trainer.protocol import ExitCode
from tui.common.verdict import HOST_OOM
from tui.runs.store import RunStore
from tui.session.headless import run_headless
from tui.session.recovery import Recovery

pytestmark = [
    pytest.mark.jax,
    pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed: pip install '.[jax]'"),
]
REPO = Path(__file__).resolve().parents[2]


def _events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def test_the_built_in_trainer_trains_on_jax_headless_and_every_view_names_the_backend(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data", classes=3, per_class=4, size=32)
    runs = tmp_path / "runs"
    env = {k: v for k, v in os.environ.items() if k not in ("MEMTUI_TRAINER_MODULE", "KERAS_BACKEND")}
    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", "run", "--headless", "--backend", "jax", "--runs-dir", str(runs),
         "--data", str(data), "--image-size", "32", "--batch-size", "4", "--epochs", "2", "--steps-per-epoch", "3",
         "--mixed-precision", "--grad-accum", "2"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == ExitCode.FINISHED, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "start run" in proc.stdout and "Keras on JAX" in proc.stdout  # headless names the backend
    assert "finished after 6 steps" in proc.stdout

    (run,) = RunStore(runs).run_dirs()
    assert RunConfig.load(run.config_path).backend == "jax"  # config.json records it
    events = _events(run.path)
    start = events[0]
    assert start["type"] == "run_start" and start["backend"] == "jax" and start["config"]["backend"] == "jax"
    assert start["jax_version"] and start["env"]["KERAS_BACKEND"] == "jax"
    assert start["devices"] == [{"name": "CPU:0", "type": "CPU", "kind": "cpu"}]
    # Mixed precision and accumulation through Keras, as on TensorFlow.
    assert start["dtype_policy"] == "mixed_float16" and start["output_dtype"] == "float32"
    step_events = [e for e in events if e["type"] == "step"]
    assert step_events and all(isinstance(e["loss"], float) and e["accuracy"] is not None for e in step_events)
    assert {"cpu_rss", "cpu_rss_peak"} <= set(step_events[-1]["memory"])  # JAX's CPU keeps no statistics
    end = events[-1]
    assert end["type"] == "run_end" and end["status"] == "finished" and end["steps"] == 6
    assert end["optimizer_iterations"] == 3  # 6 micro-batches, an update every 2

    listed = subprocess.run([sys.executable, "-m", "tui.cli", "runs", "--runs-dir", str(runs)], cwd=REPO,
                            capture_output=True, text=True, timeout=60, check=True).stdout
    assert "jax small b4 32px" in listed  # memtui runs, and the history table's words
    as_json = subprocess.run([sys.executable, "-m", "tui.cli", "runs", "--json", "--runs-dir", str(runs)], cwd=REPO,
                             capture_output=True, text=True, timeout=60, check=True).stdout
    assert json.loads(as_json)["backend"] == "jax"


def test_a_real_host_oom_on_jax_is_caught_diagnosed_and_recovered_by_halving_the_batch(tmp_path: Path) -> None:
    data = make_image_folder(tmp_path / "data", classes=3, per_class=4, size=OOM_IMAGE_SIZE)
    config = RunConfig(data=str(data), image_size=OOM_IMAGE_SIZE, batch_size=JAX_OOM_BATCH, epochs=2,
                       steps_per_epoch=1, host_memory_limit=JAX_OOM_LIMIT_MB, backend="jax")
    out = io.StringIO()
    code = run_headless(config, Recovery(True), tmp_path / "runs", as_json=True, stream=out)

    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert code == ExitCode.FINISHED, out.getvalue()[-4000:]
    runs = sorted(RunStore(tmp_path / "runs").run_dirs(), key=lambda r: r.meta()["attempt"])
    assert len(runs) == 2, [r.summary.status for r in runs]
    first, second = runs
    # Caught: the trainer's own oom event and exit code, exactly as on TensorFlow.
    oom = next(e for e in _events(first.path) if e["type"] == "oom")
    assert oom["exception"] == "JaxRuntimeError" and oom["kind"] == "host" and oom["device"] == "CPU:0"
    assert oom["requested_bytes"] > 2**30 and "RESOURCE_EXHAUSTED" in oom["message"]
    assert first.exit_info()["returncode"] == ExitCode.OOM
    # Diagnosed: host memory, with the batch first among the remedies.
    verdict = first.verdict()
    assert verdict is not None and verdict.kind == HOST_OOM
    assert verdict.remedies[0].id == "halve-batch"
    # Recovered: halving the batch (accumulating to keep the effective batch), on JAX again.
    (relaunch,) = [r for r in records if r["type"] == "relaunch"]
    assert relaunch["rung"] == "halve-batch-accum" and relaunch["config"]["backend"] == "jax"
    assert second.config().batch_size == JAX_OOM_BATCH // 2 and second.config().effective_batch == JAX_OOM_BATCH
    assert second.summary.state == "finished"
    assert _events(second.path)[0]["backend"] == "jax"
    assert second.meta()["spare"] is True, "the relaunch ran in a warm spare of the JAX backend"


def test_an_own_script_on_jax_reports_its_steps_and_takes_the_remedies(tmp_path: Path) -> None:
    after = tmp_path / "after.json"
    # The script sets KERAS_BACKEND=jax itself (os.environ.setdefault before `import keras`).
    run = run_script(tmp_path, "jax_backend.py", "--after", str(after),
                     batch_size=16, memory_growth=True, mixed_precision=True, grad_accum=2)
    assert run.returncode == 0, run.stderr[-3000:]
    start = run.one("run_start")
    assert start["backend"] == "jax" and start["devices"][0]["name"] == "CPU:0"
    # The remedies, in JAX's terms: growth is no preallocation; precision, accumulation, batch through Keras.
    assert start["memory_growth"] is True and start["env"]["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert start["dtype_policy"] == "mixed_float16" and start["grad_accum"] == 2 and start["batch_size"] == 16
    assert [s["global_step"] for s in steps(run)][-1] == 6 and all(s["loss"] is not None for s in steps(run))
    assert "cpu_rss_peak" in steps(run)[-1]["memory"]
    seen = json.loads(after.read_text())
    assert seen["backend"] == "jax" and seen["iterations"] == 3
    assert seen["env"]["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert run.one("run_end")["status"] == "finished" and run.hook_lines() == []

    # A GPU cap, with the backend chosen by the environment: JAX's cap is a
    # fraction of the GPU, and this host has none, which the events say.
    capped = run_script(tmp_path / "capped", "jax_backend.py",
                        env=hooked_env(tmp_path / "capped" / "run", base=user_env({"KERAS_BACKEND": "jax"}),
                                       gpu_memory_limit=512))
    assert capped.returncode == 0, capped.stderr[-3000:]
    notes = capped.one("run_start")["notes"]
    assert any("XLA_PYTHON_CLIENT_MEM_FRACTION" in n and "no GPU found" in n for n in notes), notes


def test_a_stop_on_jax_ends_the_step_in_progress_and_the_next_run_resumes(tmp_path: Path) -> None:
    """Steps of a few milliseconds, so the SIGINT lands inside JAX's train step:
    the stop must not touch the training state the step holds."""
    data = make_image_folder(tmp_path / "data", classes=3, per_class=4, size=16)
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    trainer = [sys.executable, "-m", "trainer", "--run-dir", str(run_dir)]
    proc = subprocess.Popen([*trainer, "--backend", "jax", "--data", str(data), "--image-size", "16",
                             "--batch-size", "2", "--epochs", "2", "--steps-per-epoch", "100000"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: (run_dir / "events.jsonl").exists()
                   and (run_dir / "events.jsonl").read_bytes().count(b'"type":"step"') >= 20,
                   timeout=120, what="20 step events")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == ExitCode.STOPPED, stderr[-3000:]
    end = _events(run_dir)[-1]
    assert end["type"] == "run_end" and end["status"] == "stopped" and end["optimizer_iterations"] == end["steps"]

    resumed = subprocess.run([*trainer, "--epochs", "1", "--steps-per-epoch", "3"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == ExitCode.FINISHED, resumed.stderr[-3000:]
    starts = [e for e in _events(run_dir) if e["type"] == "run_start"]
    assert starts[-1]["backend"] == "jax" and starts[-1]["resumed_from"]["steps"] == end["steps"]


def test_a_stop_in_an_own_script_on_jax_ends_fit_gracefully(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_BACKEND", "jax")  # the user's environment
    # Loading a batch takes most of each step, and JAX loads it inside its train step:
    # the SIGINT lands there, where the step holds the training state.
    run = run_and_interrupt(tmp_path, "jax_backend.py", "--samples", "2000", "--batch", "2", "--slow-data", "0.01",
                            after_steps=5)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "fit returned" in run.stdout
    end = run.one("run_end")
    assert end["status"] == "stopped" and "forced" not in end and end["steps"] < 100000


def test_the_trainer_on_tensorflow_keeps_jax_out_though_it_is_installed() -> None:
    """TensorFlow's TFLite helpers import JAX when it is installed (+270 MB of
    address space, which moved the host-limit OOM recipes); the TensorFlow
    trainer never uses it, so it is kept out, before TensorFlow is imported."""
    code = ("import sys\nfrom trainer.config import RunConfig\nfrom trainer.memory import prepare_environment\n"
            "prepare_environment(RunConfig())\nimport tensorflow, keras\n"
            "print(keras.backend.backend(), sys.modules.get('jax'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}, check=True)
    assert out.stdout.split() == ["tensorflow", "None"]
