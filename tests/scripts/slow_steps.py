"""Training whose steps take a while because of the script's own logging
callback (it sleeps, as a slow logger or checkpoint would); writes --after
FILE once fit() returned, as a script that saves its model would."""

import argparse
import time
from pathlib import Path

import keras
import numpy as np


class SlowLogger(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if args.sleeping:  # says when Python code (not a TensorFlow op) is running: signals land at once
            Path(args.sleeping).write_text(f"{batch}\n")
        # Short naps: Python code runs between them, where a signal handler runs at once.
        until = time.monotonic() + args.sleep
        while time.monotonic() < until:
            time.sleep(0.02)


parser = argparse.ArgumentParser()
parser.add_argument("--after")
parser.add_argument("--sleeping", help="write this file each time the logger starts sleeping")
parser.add_argument("--sleep", type=float, default=0.4)
parser.add_argument("--samples", type=int, default=640)
args = parser.parse_args()

x = np.random.default_rng(10).random((args.samples, 4), dtype=np.float32)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)], name="slow")
model.compile("sgd", "mse")
model.fit(x, x[:, :1], batch_size=32, epochs=5, verbose=0, callbacks=[SlowLogger()])
print("fit returned", flush=True)
if args.after:
    Path(args.after).write_text("saved\n")
