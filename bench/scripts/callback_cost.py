"""Run under the hook: the event callback's own cost, timed directly (so the
machine's load hardly matters). Prints JSON: microseconds of CPU per step
(batch begin + end, no event written) and per written step event."""

import json
import sys
import time

import keras
import tensorflow as tf
from _memtui_hook.callback import callback_class
from _memtui_hook.devices import MemoryReader

state = sys.modules["_memtui_hook.boot"].state()
callback = callback_class(keras)(state, lambda model: {}, 32)
callback.set_params({"steps": 100, "epochs": 1})
callback.memory = MemoryReader()
logs = {"loss": tf.constant(1.0), "accuracy": tf.constant(0.5)}
callback.on_epoch_begin(0)
callback._last_emit = float("inf")  # time the steps that write nothing
n = 20000
start = time.process_time()
for i in range(n):
    callback.on_train_batch_begin(i)
    callback.on_train_batch_end(i, logs)
per_step = (time.process_time() - start) / n
m = 2000
start = time.process_time()
for i in range(m):
    with callback._lock:
        callback._pending = (i + 1, logs)
        callback._count = 1
        callback._flush_locked()
per_event = (time.process_time() - start) / m
print(json.dumps({"step_us": per_step * 1e6, "event_us": per_event * 1e6}))
