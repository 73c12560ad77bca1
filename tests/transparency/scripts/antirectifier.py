# Adapted from keras-team/keras-io examples/keras_recipes/antirectifier.py
# ("Simple custom layer example: Antirectifier", fchollet),
# https://github.com/keras-team/keras-io/blob/master/examples/keras_recipes/antirectifier.py
# Copyright the Keras authors, Apache License 2.0. The example's prose cells are
# shortened; every change to its code is marked `# memtui-corpus:`.
import numpy as np  # memtui-corpus: for the synthetic MNIST below
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers

keras.utils.set_random_seed(1337)  # memtui-corpus: seeded, so two runs write the same


class Antirectifier(layers.Layer):
    def __init__(self, initializer="he_normal", **kwargs):
        super(Antirectifier, self).__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        output_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(output_dim * 2, output_dim),
            initializer=self.initializer,
            name="kernel",
            trainable=True,
        )

    def call(self, inputs):
        inputs -= tf.reduce_mean(inputs, axis=-1, keepdims=True)
        pos = tf.nn.relu(inputs)
        neg = tf.nn.relu(-inputs)
        concatenated = tf.concat([pos, neg], axis=-1)
        mixed = tf.matmul(concatenated, self.kernel)
        return mixed

    def get_config(self):
        # Implement get_config to enable serialization. This is optional.
        base_config = super(Antirectifier, self).get_config()
        config = {"initializer": keras.initializers.serialize(self.initializer)}
        return dict(list(base_config.items()) + list(config.items()))


# Training parameters
batch_size = 64  # memtui-corpus: 64, not 128
num_classes = 10
epochs = 2  # memtui-corpus: 2, not 20

# The data, split between train and test sets
# memtui-corpus: synthetic uint8 digits (192 train, 32 test) instead of keras.datasets.mnist.load_data()
_rng = np.random.default_rng(1337)  # memtui-corpus
x_train = _rng.integers(0, 256, size=(192, 28, 28), dtype="uint8")  # memtui-corpus
y_train = _rng.integers(0, 10, size=(192,), dtype="uint8")  # memtui-corpus
x_test = _rng.integers(0, 256, size=(32, 28, 28), dtype="uint8")  # memtui-corpus
y_test = _rng.integers(0, 10, size=(32,), dtype="uint8")  # memtui-corpus

x_train = x_train.reshape(-1, 784)
x_test = x_test.reshape(-1, 784)
x_train = x_train.astype("float32")
x_test = x_test.astype("float32")
x_train /= 255
x_test /= 255
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

# Build the model
model = keras.Sequential(
    [
        keras.Input(shape=(784,)),
        layers.Dense(256),
        Antirectifier(),
        layers.Dense(256),
        Antirectifier(),
        layers.Dropout(0.5),
        layers.Dense(10),
    ]
)

# Compile the model
model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=keras.optimizers.RMSprop(),
    metrics=[keras.metrics.SparseCategoricalAccuracy()],
)

# Train the model
model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.15)

# Test the model
model.evaluate(x_test, y_test)
