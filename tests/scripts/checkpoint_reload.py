"""Train, checkpoint with ModelCheckpoint, restore with keras.models.load_model and
fit again (as in keras-io's "Save, serialize, and export models")."""

import sys

import keras
import numpy as np

rng = np.random.default_rng(4)
x = rng.random((64, 4), dtype=np.float32)
y = rng.integers(0, 2, 64)
inputs = keras.Input((4,))
outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Dense(8, activation="relu")(inputs))
model = keras.Model(inputs, outputs)
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[keras.callbacks.ModelCheckpoint("best.keras")])
restored = keras.models.load_model("best.keras")
history = restored.fit(x, y, epochs=1, batch_size=16, verbose=0)
print("restored", type(restored.optimizer).__name__, sorted(history.history))
if len(sys.argv) > 1:
    with open(sys.argv[1], "w") as fh:
        fh.write(f"iterations={int(restored.optimizer.iterations.numpy())}\n")
