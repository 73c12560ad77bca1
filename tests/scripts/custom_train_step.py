"""A Model subclass overriding train_step (after keras-io's "Customizing
what happens in fit() with TensorFlow")."""

import keras
import numpy as np
import tensorflow as tf
from keras import layers


class CustomModel(keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = keras.losses.mean_squared_error(y, y_pred)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


inputs = keras.Input(shape=(8,))
outputs = layers.Dense(1)(inputs)
model = CustomModel(inputs, outputs, name="custom_step")
model.compile(optimizer="adam")
x = np.random.default_rng(2).random((96, 8), dtype=np.float32)
y = np.random.default_rng(3).random((96, 1), dtype=np.float32)
model.fit(x, y, epochs=2, batch_size=32, verbose=0)
print("trained", flush=True)
