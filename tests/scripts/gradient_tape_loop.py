"""A custom training loop with tf.GradientTape and no fit() (after keras-io's
"Writing a training loop from scratch in TensorFlow")."""

import keras
import numpy as np
import tensorflow as tf

model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
optimizer = keras.optimizers.SGD(learning_rate=1e-2)
loss_fn = keras.losses.MeanSquaredError()
x = np.random.default_rng(9).random((64, 4), dtype=np.float32)
dataset = tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(16)

for epoch in range(2):
    for x_batch, y_batch in dataset:
        with tf.GradientTape() as tape:
            loss_value = loss_fn(y_batch, model(x_batch, training=True))
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply(grads, model.trainable_weights)
    print(f"epoch {epoch} loss {float(loss_value):.4f}", flush=True)
print("trained", flush=True)
