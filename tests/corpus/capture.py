"""Re-create the real-run corpus files in tests/corpus/real/ (run by hand, slow).

Each scenario runs a small TensorFlow script in a fresh interpreter on this
CPU machine and keeps its stdout+stderr exactly as written. Out-of-memory is
produced for real with an address-space limit (RLIMIT_AS) set after the
import, because the import alone maps a few GiB. Run:

    .venv/bin/python tests/corpus/capture.py [NAME ...]

It prints each scenario's return code (Popen's convention) so expected.toml
can be checked against it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent / "real"

_PRELUDE = """
import os, resource, signal, sys
import numpy as np
import tensorflow as tf
import keras

def vm_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

def limit_headroom(mib):
    lim = vm_bytes() + (mib << 20)
    resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    print(f"address-space limit {lim >> 20} MiB", flush=True)

def tiny_model(size=32, filters=16):
    m = keras.Sequential([
        keras.Input((size, size, 3)),
        keras.layers.Conv2D(filters, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    m.compile("adam", "sparse_categorical_crossentropy")
    return m
"""

SCENARIOS: dict[str, str] = {
    # A 16 GiB tensor under a 2 GiB headroom: TF raises ResourceExhaustedError.
    "rlimit_fill_resource_exhausted": """
limit_headroom(2048)
y = tf.zeros([2048, 256, 256, 32])
print(float(tf.reduce_sum(y)))
""",
    # A real fit step under a limit: the BFC dump for the CPU allocator.
    "rlimit_fit_bfc_dump": """
m = tiny_model(128, 32)
x = np.zeros((256, 128, 128, 3), "float32"); y = np.zeros((256,), "int32")
limit_headroom(800)
m.fit(x, y, batch_size=256, epochs=1, verbose=2)
""",
    # Too little headroom for tf.data's threads: a CHECK failure and abort.
    "rlimit_thread_abort": """
m = tiny_model(128, 32)
x = np.zeros((256, 128, 128, 3), "float32"); y = np.zeros((256,), "int32")
limit_headroom(300)
m.fit(x, y, batch_size=256, epochs=1, verbose=2)
""",
    # A 200 MB int32 tensor under 64 MiB of headroom: also a ResourceExhaustedError
    # (TF's allocator returns an error; it does not throw std::bad_alloc).
    "rlimit_int_tensor": """
limit_headroom(64)
x = tf.ones([50_000_000], tf.int32)
""",
    # numpy's own MemoryError under the same kind of limit.
    "numpy_memory_error": """
limit_headroom(256)
x = np.ones((2048, 256, 256, 32), "float32")
""",
    # Not an OOM: a shape mistake in user code.
    "python_value_error": """
m = tiny_model()
x = np.zeros((8, 32, 32, 3), "float32"); y = np.zeros((8, 3), "float32")
m.fit(x, y, batch_size=4, epochs=1, verbose=2)
""",
    # A fit that is killed with SIGKILL part-way: the log simply stops.
    "sigkill_mid_run": """
m = tiny_model()
x = np.zeros((64, 32, 32, 3), "float32"); y = np.zeros((64,), "int32")
class Kill(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        print(f"step {batch} loss {logs['loss']:.4f}", flush=True)
        if batch == 2:
            os.kill(os.getpid(), signal.SIGKILL)
m.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[Kill()])
""",
    # Ctrl-C during fit: KeyboardInterrupt escapes fit (TF swallows a real
    # SIGINT delivered to a worker thread, so the callback raises it).
    "keyboard_interrupt": """
m = tiny_model()
x = np.zeros((64, 32, 32, 3), "float32"); y = np.zeros((64,), "int32")
class Stop(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 2:
            raise KeyboardInterrupt
m.fit(x, y, batch_size=8, epochs=1, verbose=2, callbacks=[Stop()])
""",
    # A big allocation that succeeds with warnings, then a normal finish.
    "big_allocation_finished": """
y = tf.random.uniform([800_000_000])
print("sum", float(tf.reduce_sum(y)))
m = tiny_model()
x = np.zeros((16, 32, 32, 3), "float32"); yy = np.zeros((16,), "int32")
m.fit(x, yy, batch_size=8, epochs=1, verbose=2)
print("done")
""",
}


# TensorFlow's allocators return errors instead of throwing, so the real
# libstdc++ abort text comes from a C++ `new` under the same kind of limit.
_BAD_ALLOC_CXX = """
#include <cstdio>
#include <vector>
#include <sys/resource.h>
int main() {
    rlimit lim{256u << 20, 256u << 20};
    setrlimit(RLIMIT_AS, &lim);
    std::puts("allocating 1 GiB under a 256 MiB address-space limit");
    std::fflush(stdout);
    std::vector<char> big(1u << 30);
    return big[0];
}
"""


def _command(name: str, workdir: Path) -> list[str]:
    if name == "cxx_bad_alloc":
        src = workdir / "bad_alloc.cc"
        src.write_text(_BAD_ALLOC_CXX)
        subprocess.run(["g++", "-O0", "-o", str(workdir / "bad_alloc"), str(src)], check=True)
        return [str(workdir / "bad_alloc")]
    return [sys.executable, "-c", _PRELUDE + SCENARIOS[name]]


def capture(name: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            _command(name, Path(tmp)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600, check=False
        )
    (HERE / f"{name}.log").write_bytes(proc.stdout)
    return proc.returncode


# Real runs of our own trainer (`python -m trainer`), kept as run folders.
TRAINER_RUNS: dict[str, list[str]] = {
    "trainer_finished": ["--image-size", "32", "--batch-size", "8", "--epochs", "1", "--steps-per-epoch", "3"],
    "trainer_host_oom": ["--image-size", "224", "--batch-size", "512", "--epochs", "1", "--steps-per-epoch", "1",
                         "--host-memory-limit", "4096"],
    "trainer_bad_input": ["--image-size", "32", "--data", "/nonexistent/photos"],
}
_KEEP = ("trainer.log", "events.jsonl", "config.json", "exit.json")


def capture_trainer(name: str) -> int:
    """Run the trainer with its log going where the reaper sends it, then
    keep the run folder's text files and an exit.json like the reaper's."""
    import json
    import shutil
    import time

    run = Path(__file__).parent / "trainer" / name
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    with open(run / "trainer.log", "wb") as log:
        proc = subprocess.run([sys.executable, "-m", "trainer", "--run-dir", str(run), *TRAINER_RUNS[name]],
                              stdout=log, stderr=subprocess.STDOUT, timeout=900, check=False)
    code = proc.returncode
    ended = {"returncode": code, "signal": -code if code < 0 else None, "ended": time.time()}
    (run / "exit.json").write_text(json.dumps(ended) + "\n")
    for item in run.iterdir():
        if item.name not in _KEEP:
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    return code


def main(names: list[str]) -> None:
    HERE.mkdir(exist_ok=True)
    for name in names or [*SCENARIOS, "cxx_bad_alloc", *TRAINER_RUNS]:
        code = capture_trainer(name) if name in TRAINER_RUNS else capture(name)
        print(f"{name}: returncode {code}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
