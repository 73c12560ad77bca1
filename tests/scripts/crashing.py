"""A script with a bug: a NameError after building its model."""

import keras

model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile("adam", "mse")
model.fit(x_train, y_train)  # noqa: F821 - the bug under test
