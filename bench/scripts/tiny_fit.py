"""The benchmark's user script: a tiny convnet on NumPy arrays. Its own
callback (async_safe, as memtui's is) writes to argv[1], as JSON, when the
first step ended and when training ended (unix time), the step count and the
process CPU seconds (all threads) after the first step."""

import json
import sys
import time

import keras
import numpy as np


class Clock(keras.callbacks.Callback):
    async_safe = True

    def __init__(self):
        super().__init__()
        self.first = None
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.first is None:
            self.first = time.time()
            self.first_cpu = time.process_time()

    def on_train_end(self, logs=None):
        with open(sys.argv[1], "w") as fh:
            json.dump({"first_step": self.first, "end": time.time(), "steps": self.steps,
                       "cpu": time.process_time() - self.first_cpu}, fh)


steps = int(sys.argv[2]) if len(sys.argv) > 2 else 600
x = np.random.default_rng(0).random((steps * 32, 16, 16, 1), dtype=np.float32)
y = np.random.default_rng(1).integers(0, 10, steps * 32)
model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Conv2D(8, 3, activation="relu"),
                          keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[Clock()])
