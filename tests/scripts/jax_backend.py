"""A user's Keras 3 script on the JAX backend: it chooses the backend itself
(unless the environment already did), as Keras' guides do, then trains a
small convnet on NumPy arrays and reads back what JAX saw."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import argparse
import json
import time
from pathlib import Path

import keras
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--samples", type=int, default=96)
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--slow-data", type=float, default=0.0, help="feed a PyDataset taking this long per batch")
parser.add_argument("--after")
args = parser.parse_args()

rng = np.random.default_rng(0)
x = rng.random((args.samples, 8, 8, 1), dtype=np.float32)
y = rng.integers(0, 4, args.samples)
model = keras.Sequential([
    keras.Input((8, 8, 1)),
    keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
    keras.layers.Flatten(),
    keras.layers.Dense(4, activation="softmax", dtype="float32"),
], name="jax_convnet")
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])


class SlowData(keras.utils.PyDataset):
    """Batches that take a while to load (as from a slow disk), in the main thread."""

    def __len__(self):
        return len(x) // args.batch

    def __getitem__(self, index):
        time.sleep(args.slow_data)
        part = slice(index * args.batch, (index + 1) * args.batch)
        return x[part], y[part]


if args.slow_data:
    model.fit(SlowData(), epochs=args.epochs, verbose=0)
else:
    model.fit(x, y, batch_size=args.batch, epochs=args.epochs, verbose=0)
print("fit returned", flush=True)

if args.after:
    import jax

    Path(args.after).write_text(json.dumps({
        "backend": keras.backend.backend(),
        "platform": jax.default_backend(),
        "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        "env": {k: os.environ[k] for k in os.environ if k.startswith("XLA_")},
    }))
