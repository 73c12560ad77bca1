"""The seed's two CNNs, for any image size and number of classes.

Exactly the seed's layers: three 3x3 same-padded ReLU convolutions, each
followed by 2x2 max pooling, then Flatten, a ReLU Dense and a softmax Dense.
At 256x256x3 and 10 classes: small 8,413,610 parameters, large 33,650,506.
Under mixed_float16 the last layer computes in float32, so the softmax and the
loss stay numerically safe.
"""

from __future__ import annotations

import sys
from typing import Any

from trainer.config import ARCHITECTURES


def build_model(name: str, image_size: int, classes: int, print_each_step: bool = False) -> Any:
    """A Sequential CNN as in the seed. `print_each_step` adds a layer that
    prints to stdout on every call (a debugging hook to prove that model code
    writing to stdout cannot corrupt the event stream)."""
    import keras

    filters, units = ARCHITECTURES[name]
    layers: list[Any] = [keras.Input(shape=(image_size, image_size, 3))]
    if print_each_step:
        layers.append(_stdout_printer())
    for n in filters:
        layers.append(keras.layers.Conv2D(n, (3, 3), activation="relu", padding="same"))
        layers.append(keras.layers.MaxPooling2D((2, 2)))
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(units, activation="relu"),
        keras.layers.Dense(classes, activation="softmax", dtype="float32"),
    ]
    return keras.Sequential(layers, name=f"seed_{name}_cnn")


def _stdout_printer() -> Any:
    import keras

    class PrintToStdout(keras.layers.Layer):
        def call(self, inputs: Any) -> Any:
            # print() runs while tracing, tf.print (jax.debug.print on JAX) on
            # every step: both as a user's debugging would, both to fd 1.
            print("model traced; printing to stdout")
            if keras.backend.backend() == "jax":
                import jax

                jax.debug.print("model says hello from a training step")
            else:
                import tensorflow as tf

                tf.print("model says hello from a training step", output_stream=sys.stdout)
            return inputs

    return PrintToStdout(name="print_to_stdout")
