"""A convnet on 64x64 images whose batch (from the command line, e.g. the
{batch_size} placeholder) is far too big for the host memory limit."""

import argparse
from pathlib import Path

import keras
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--batch", type=int, required=True)
parser.add_argument("--after")
args = parser.parse_args()

x = np.zeros((args.batch, 64, 64, 3), dtype=np.float32)
y = np.zeros((args.batch,), dtype=np.int32)
model = keras.Sequential([
    keras.Input((64, 64, 3)),
    keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
    keras.layers.MaxPooling2D(),
    keras.layers.Flatten(),
    keras.layers.Dense(3, activation="softmax"),
], name="big_batch_cnn")
model.compile("adam", "sparse_categorical_crossentropy")
model.fit(x, y, batch_size=args.batch, epochs=1, verbose=0)
if args.after:
    Path(args.after).write_text("fit returned\n")
