"""A keras.utils.PyDataset loaded by worker processes (after the Keras docs'
PyDataset example): the workers must not report as extra runs."""

import math
import os

import keras
import numpy as np


class RandomBatches(keras.utils.PyDataset):
    def __init__(self, count, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.count = count
        self.batch_size = batch_size

    def __len__(self):
        return math.ceil(self.count / self.batch_size)

    def __getitem__(self, idx):
        rng = np.random.default_rng(idx)
        x = rng.random((self.batch_size, 4), dtype=np.float32)
        return x, x[:, :1]


model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)], name="pydataset_model")
model.compile("sgd", "mse")
model.fit(RandomBatches(96, 16, workers=2, use_multiprocessing=True), epochs=2, verbose=0)
print("trained in", os.getpid(), flush=True)
