"""A script with its own callbacks: a custom one counting batches, passed
positionally, then a CallbackList of its own; prints what it saw as JSON."""

import json
import sys

import keras
import numpy as np


class CountBatches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0
        self.epochs = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1


x = np.random.default_rng(6).random((96, 4), dtype=np.float32)
y = np.random.default_rng(7).random((96, 1), dtype=np.float32)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)], name="with_callbacks")
model.compile("sgd", "mse")

counter = CountBatches()
callbacks = [counter, keras.callbacks.TerminateOnNaN()]
model.fit(x, y, 32, 2, 0, callbacks)  # positional: batch_size, epochs, verbose, callbacks
first = {"batches": counter.batches, "epochs": counter.epochs, "callbacks": len(callbacks)}

second_counter = CountBatches()
own_list = keras.callbacks.CallbackList([second_counter], add_history=True, model=model, epochs=1, steps=3)
model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=own_list)
second = {"batches": second_counter.batches, "list": len(own_list.callbacks)}
json.dump({"first": first, "second": second}, sys.stdout)
print(flush=True)
