"""Simple convnet on in-memory NumPy arrays with validation_split
(after keras-io's "Simple MNIST convnet"), on random 8x8 'digits'."""

import argparse
from pathlib import Path

import keras
import numpy as np
from keras import layers

parser = argparse.ArgumentParser()
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--samples", type=int, default=192)
parser.add_argument("--size", type=int, default=8)
parser.add_argument("--jit", action="store_true")
parser.add_argument("--accum", type=int, default=None, help="the script's own gradient_accumulation_steps")
parser.add_argument("--after")
args = parser.parse_args()

num_classes = 10
rng = np.random.default_rng(0)
x_train = rng.random((args.samples, args.size, args.size, 1), dtype=np.float32)
y_train = keras.utils.to_categorical(rng.integers(0, num_classes, args.samples), num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=(args.size, args.size, 1)),
        layers.Conv2D(8, kernel_size=(3, 3), activation="relu", padding="same"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax", dtype="float32"),
    ],
    name="mnist_convnet",
)
optimizer = keras.optimizers.Adam(gradient_accumulation_steps=args.accum) if args.accum else "adam"
model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"],
              jit_compile=True if args.jit else "auto")
model.fit(x_train, y_train, batch_size=args.batch, epochs=args.epochs, validation_split=0.25, verbose=2)

print("trained", flush=True)
if args.after:
    model.save(Path(args.after).with_suffix(".keras"))
    Path(args.after).write_text(f"iterations={int(model.optimizer.iterations.numpy())}\n")
