"""A stand-in for a user's own Keras script: real Python under memtui's real
script hook, no TensorFlow. For the tests of the launcher side that need no
real training (find-batch's plumbing, relaunches, the batch capability).

memtui runs it as the user's command (`memtui -- python tests/stand_in_script.py`);
the hook (trainer/scripthook) loads at start-up as for any script and writes
hook.json. This script then reports through the hook's own event writer, as
the hook's fit() patch would: run_start, steps, run_end, or an oom and exit 3.
What it does comes from the environment variable `STAND_IN_FIT`, a JSON
object (all keys optional):

- `control`: "arrays" (default: memtui sets the batch), "rebatch", or "none"
  (a generator: the batch cannot be set); "placeholder" when the command has
  `{batch_size}` is taken from the hook's settings.
- `batch` (int, default 32): the script's own batch.
- `steps` (int, default 4): steps per epoch (capped by KERAS_MAX_STEPS_PER_EPOCH).
- `epochs` (int, default 1) (capped by KERAS_MAX_EPOCHS).
- `oom_above` (int): out of memory at step 1 when the batch is above this.
- `rate` (float, default 50): steps per second.
- `no_fit` (bool): never "call fit()": no events at all.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> int:
    plan = json.loads(os.environ.get("STAND_IN_FIT") or "{}")
    hook = sys.modules.get("_memtui_hook.boot")
    if hook is None or hook.SETTINGS is None:
        print("stand-in script: memtui's hook is not loaded", file=sys.stderr)
        return 1
    if plan.get("no_fit"):
        print("stand-in script: trained without fit()", flush=True)
        return 0
    settings = hook.SETTINGS
    writer = hook.state().writer
    control = "placeholder" if settings.batch_placeholder else plan.get("control", "arrays")
    own = int(plan.get("batch", 32))
    batch = own
    if control == "placeholder" or (control in ("arrays", "rebatch") and settings.batch_size):
        batch = settings.batch_size or own
    if control == "none":
        control, batch_seen = None, None
    else:
        batch_seen = batch
    steps = int(plan.get("steps", 4))
    epochs = int(plan.get("epochs", 1))
    if os.environ.get("KERAS_MAX_STEPS_PER_EPOCH"):
        steps = min(steps, int(os.environ["KERAS_MAX_STEPS_PER_EPOCH"]))
    if os.environ.get("KERAS_MAX_EPOCHS"):
        epochs = min(epochs, int(os.environ["KERAS_MAX_EPOCHS"]))
    writer.emit("run_start", phase=1, config=settings.to_dict(), params=1234, devices=[{"name": "CPU:0"}],
                tf_version="stand-in", keras_version="stand-in", backend="tensorflow",
                memory_growth=settings.memory_growth, dataset={"input": "arrays"}, input="arrays",
                model="stand_in_model", optimizer="Adam", batch_size=batch_seen, batch_control=control,
                dtype_policy="mixed_float16" if settings.mixed_precision else "float32",
                grad_accum=settings.grad_accum, jit_compile=settings.jit_compile is not False,
                steps_in_epoch=steps, epochs=epochs, backup_dir=settings.backup_dir, initial_epoch=None, notes=[])
    oom_above = plan.get("oom_above")
    if oom_above is not None and batch > int(oom_above):
        message = f"OOM when allocating tensor with shape[{batch},64,64,16] and type float on CPU by allocator cpu"
        writer.emit("oom", phase=1, kind="host", message=message, shape=f"[{batch},64,64,16]", dtype="float",
                    device="CPU", allocator="cpu", requested_bytes=batch * 64 * 64 * 16 * 4,
                    exception="ResourceExhaustedError")
        writer.emit("run_end", phase=1, status="oom", steps=0)
        # As the real hook: the error goes on as the script's own (its traceback, exit 1).
        print(f"Traceback (most recent call last):\n  File \"stand_in_script.py\", line 1, in <module>\n"
              f"tensorflow.python.framework.errors_impl.ResourceExhaustedError: {message}", file=sys.stderr,
              flush=True)
        return 1
    pause = 1.0 / float(plan.get("rate", 50))
    done = 0
    for epoch in range(1, epochs + 1):
        for step in range(1, steps + 1):
            time.sleep(pause)
            done += 1
            writer.emit("step", phase=1, epoch=epoch, step=step, global_step=done, steps_in_epoch=steps,
                        loss=1.0 / done, accuracy=None, metrics={"loss": 1.0 / done}, batch_size=batch_seen or 0,
                        step_seconds=pause, examples_per_second=(batch_seen or 0) / pause,
                        memory={"cpu_rss": 100 << 20, "cpu_rss_peak": (100 << 20) + batch})
        writer.emit("epoch", phase=1, epoch=epoch, epochs=epochs, metrics={"loss": 1.0 / done})
    writer.emit("run_end", phase=1, status="finished", steps=done, peak_memory=(100 << 20) + batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
