"""A tf.data input pipeline batched inside the script, with a validation
dataset (after keras-io's tf.data guides)."""

import argparse

import keras
import numpy as np
import tensorflow as tf

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=1)
args = parser.parse_args()

features = np.random.default_rng(1).random((240, 16), dtype=np.float32)
labels = (features.sum(axis=1) > 8).astype("int32")
train_ds = (tf.data.Dataset.from_tensor_slices((features[:200], labels[:200]))
            .shuffle(200).batch(20).prefetch(tf.data.AUTOTUNE))
val_ds = tf.data.Dataset.from_tensor_slices((features[200:], labels[200:])).batch(20)

inputs = keras.Input(shape=(16,))
x = keras.layers.Dense(16, activation="relu")(inputs)
outputs = keras.layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs, name="pipeline_mlp")
model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(train_ds, validation_data=val_ds, epochs=args.epochs, verbose=2)
print("trained", flush=True)
