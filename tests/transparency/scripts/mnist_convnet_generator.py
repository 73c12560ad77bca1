# Adapted from keras-team/keras-io examples/vision/mnist_convnet.py
# ("Simple MNIST convnet", fchollet),
# https://github.com/keras-team/keras-io/blob/master/examples/vision/mnist_convnet.py
# Copyright the Keras authors, Apache License 2.0. The example's prose cells are
# shortened; every change to its code is marked `# memtui-corpus:`.
# memtui-corpus: this variant feeds fit() from a plain Python generator, the one
# input no keras-io script trains on (the corpus must cover it, issue 20).
import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

keras.utils.set_random_seed(1337)  # memtui-corpus: seeded, so two runs write the same

# Model / data parameters
num_classes = 10
input_shape = (28, 28, 1)

# Load the data and split it between train and test sets
# memtui-corpus: synthetic uint8 digits (160 train, 32 test) instead of keras.datasets.mnist.load_data()
rng = np.random.default_rng(1337)
x_train = rng.integers(0, 256, size=(160, 28, 28), dtype="uint8")
y_train = rng.integers(0, 10, size=(160,), dtype="uint8")
x_test = rng.integers(0, 256, size=(32, 28, 28), dtype="uint8")
y_test = rng.integers(0, 10, size=(32,), dtype="uint8")

# Scale images to the [0, 1] range
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
# Make sure images have shape (28, 28, 1)
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print("x_train shape:", x_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")


# convert class vectors to binary class matrices
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)

model.summary()

batch_size = 32  # memtui-corpus: 32, not 128 (few samples)
epochs = 2  # memtui-corpus: 2, not 15

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])


def batches(x, y, size):  # memtui-corpus: a plain Python generator instead of the arrays
    while True:
        for start in range(0, len(x) - size + 1, size):
            yield x[start:start + size], y[start:start + size]


model.fit(batches(x_train, y_train, batch_size), steps_per_epoch=len(x_train) // batch_size,
          epochs=epochs)  # memtui-corpus: the generator, so no validation_split (arrays only)

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
