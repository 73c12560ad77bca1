"""A user's Keras 3 script written for several processes on JAX: it picks the
JAX backend, feeds its own share of NumPy arrays (every world-th example from
its rank, as the process id memtui's --workers gives it says), and knows
nothing else of memtui. `--steps N` trains N batches per epoch; `--die-after N`
makes rank 1 raise after N steps (a crash in one worker)."""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import argparse

import keras
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--batch", type=int, default=4)
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--die-after", type=int, default=0)
args = parser.parse_args()

rank = int(os.environ.get("KERAS_DISTRIBUTION_PROCESS_ID", "0"))
world = int(os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES", "1"))
keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(256, 8)).astype("float32")
y = (x[:, 0] > 0).astype("int32")
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)])
model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))


class DieAfter(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if args.die_after and rank == 1 and batch + 1 >= args.die_after:
            raise RuntimeError(f"rank {rank} broke on purpose after {batch + 1} steps")


model.fit(x[rank::world], y[rank::world], batch_size=args.batch, epochs=args.epochs, steps_per_epoch=args.steps,
          verbose=0, callbacks=[DieAfter()])
print(f"rank {rank} of {world}: done", flush=True)
