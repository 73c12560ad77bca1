# Adapted from keras-team/keras-io examples/keras_recipes/trainer_pattern.py
# ("Trainer pattern", nkovela1): a subclassed Model with its own train_step,
# wrapping a Sequential and a Functional model, first built inside fit(),
# https://github.com/keras-team/keras-io/blob/master/examples/keras_recipes/trainer_pattern.py
# Copyright the Keras authors, Apache License 2.0. The example's prose cells are
# shortened; every change to its code is marked `# memtui-corpus:`.
import numpy as np  # memtui-corpus: for the synthetic MNIST below
import tensorflow as tf
from tensorflow import keras

keras.utils.set_random_seed(1337)  # memtui-corpus: seeded, so two runs write the same

# Load MNIST dataset and standardize the data
# memtui-corpus: synthetic uint8 digits (128 train, 32 test) instead of keras.datasets.mnist.load_data()
_rng = np.random.default_rng(1337)  # memtui-corpus
x_train = _rng.integers(0, 256, size=(128, 28, 28), dtype="uint8")  # memtui-corpus
y_train = _rng.integers(0, 10, size=(128,), dtype="uint8")  # memtui-corpus
x_test = _rng.integers(0, 256, size=(32, 28, 28), dtype="uint8")  # memtui-corpus
y_test = _rng.integers(0, 10, size=(32,), dtype="uint8")  # memtui-corpus
x_train, x_test = x_train / 255.0, x_test / 255.0


class MyTrainer(keras.Model):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self.model(x, training=True)  # Forward pass
            # Compute loss value
            loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)

        # Compute gradients
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)

        # Update weights
        self.optimizer.apply_gradients(zip(gradients, trainable_vars))

        # Update metrics configured in `compile()`
        self.compiled_metrics.update_state(y, y_pred)

        # Return a dict mapping metric names to current value.
        return {m.name: m.result() for m in self.metrics}

    def call(self, x):
        # Equivalent to `call()` of the wrapped keras.Model
        x = self.model(x)
        return x


# A model defined using Sequential API
model_a = keras.models.Sequential(
    [
        keras.layers.Flatten(input_shape=(28, 28)),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ]
)

# A model defined using Functional API
func_input = keras.Input(shape=(28, 28, 1))
x = keras.layers.Flatten(input_shape=(28, 28))(func_input)
x = keras.layers.Dense(512, activation="relu")(x)
x = keras.layers.Dropout(0.4)(x)
func_output = keras.layers.Dense(10, activation="softmax")(x)

model_b = keras.Model(func_input, func_output)

trainer_1 = MyTrainer(model_a)
trainer_2 = MyTrainer(model_b)

trainer_1.compile(
    keras.optimizers.SGD(), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
trainer_1.fit(
    x_train, y_train, epochs=2, batch_size=64, validation_data=(x_test, y_test)  # memtui-corpus: 2 epochs, not 5
)

trainer_2.compile(
    keras.optimizers.Adam(),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
trainer_2.fit(
    x_train, y_train, epochs=2, batch_size=64, validation_data=(x_test, y_test)  # memtui-corpus: 2 epochs, not 5
)
