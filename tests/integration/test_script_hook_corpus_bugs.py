"""Hook bugs the transparency corpus (tests/transparency/, issue 20) found, each
pinned here on the smallest script that shows it, run through the real hook
alone and against the same script without it."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripthook_run import run_script, user_env

pytestmark = pytest.mark.tf

CORPUS = Path(__file__).parents[1] / "transparency" / "scripts"

OWN_CALLBACK_FAILS = """\
import keras
import numpy as np


class Boom(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        raise ValueError("the script's own error")


model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile("adam", "mse")
model.fit(np.zeros((8, 4)), np.zeros((8, 1)), verbose=0, callbacks=[Boom()])
"""

FIRST_MODEL_NAME = """\
import keras

print(keras.Sequential().name)
"""

MIRRORED = """\
import keras
import numpy as np
import tensorflow as tf

with tf.distribute.MirroredStrategy().scope():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile("adam", "mse")
model.fit(np.zeros((8, 4)), np.zeros((8, 1)), batch_size=4, verbose=0)
print("trained")
"""


def script(tmp_path: Path, text: str) -> str:
    path = tmp_path / "train.py"
    path.write_text(text)
    return str(path)


def traceback_of(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("Traceback"))
    return lines[start:]


def test_the_scripts_traceback_from_inside_fit_has_no_hook_frames(tmp_path: Path) -> None:
    # Was: "patches.py, line N, in fit" and "in _run" frames (and their carets) in the script's stderr.
    train = script(tmp_path, OWN_CALLBACK_FAILS)
    hooked = run_script(tmp_path / "hooked", train)
    bare = run_script(tmp_path / "bare", train, env=user_env())
    assert hooked.returncode == bare.returncode == 1
    assert "_memtui_hook" not in hooked.stderr
    assert traceback_of(hooked.stderr) == traceback_of(bare.stderr)
    assert 'train.py", line 7, in on_train_begin' in hooked.stderr


def test_the_hooks_probe_leaves_the_scripts_first_model_its_name(tmp_path: Path) -> None:
    # Was "sequential_1": the internals probe built an auto-named Sequential as Keras loaded.
    train = script(tmp_path, FIRST_MODEL_NAME)
    hooked = run_script(tmp_path / "hooked", train)
    bare = run_script(tmp_path / "bare", train, env=user_env())
    assert hooked.returncode == bare.returncode == 0, hooked.stderr[-2000:]
    assert hooked.stdout.splitlines()[-1] == bare.stdout.splitlines()[-1] == "sequential"


def test_mixed_precision_that_breaks_a_fit_at_its_start_is_undone_and_the_fit_runs_as_written(
        tmp_path: Path) -> None:
    # Was a crash: the keras-io VAE's Sampling layer multiplies by a float32 keras.random.normal.
    run = run_script(tmp_path, str(CORPUS / "subclassed_vae.py"), mixed_precision=True)
    assert run.returncode == 0, run.stderr[-3000:]
    refused = [r for r in run.not_applied() if r["change"] == "mixed-precision"]
    assert refused and refused[0]["asked"] is True, run.not_applied()
    assert "float16" in refused[0]["why"] and "ran again as the script wrote it" in refused[0]["why"]
    assert any("mixed precision undone" in line for line in run.hook_lines())
    assert run.one("run_end")["status"] == "finished"


def test_gradient_accumulation_is_refused_under_a_tf_distribute_strategy(tmp_path: Path) -> None:
    # Was a crash: "merge_call called while defining a new graph" in the first train step.
    run = run_script(tmp_path, script(tmp_path, MIRRORED), grad_accum=2)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines()[-1] == "trained"
    refused = [r for r in run.not_applied() if r["change"] == "grad-accum"]
    assert refused and "tf.distribute.MirroredStrategy" in refused[0]["why"], run.not_applied()
    assert run.one("run_start")["grad_accum"] == 1
