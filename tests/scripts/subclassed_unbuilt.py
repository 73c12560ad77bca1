"""A subclassed keras.Model first built inside fit() (never called on data before),
as in keras-io's "Making new layers and models via subclassing"."""

import sys

import keras
import numpy as np


class TwoLayers(keras.Model):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(2)

    def call(self, x):
        return self.out(self.hidden(x))


rng = np.random.default_rng(3)
x = rng.random((64, 4), dtype=np.float32)
y = rng.integers(0, 2, 64)
model = TwoLayers()
model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
print("history", sorted(history.history), len(history.history["loss"]))
if len(sys.argv) > 1:
    with open(sys.argv[1], "w") as fh:
        fh.write(f"iterations={int(model.optimizer.iterations.numpy())}\n")
