"""A script whose data does not fit its model: fit() raises ValueError."""

import keras
import numpy as np

model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
model.compile("adam", "mse")
model.fit(np.zeros((32, 5), dtype="float32"), np.zeros((32, 1), dtype="float32"), verbose=0)
