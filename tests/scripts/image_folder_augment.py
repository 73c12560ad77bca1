"""Image classification from a folder: image_dataset_from_directory, data
augmentation applied in a tf.data map, and jit_compile=True (after keras-io's
"Image classification from scratch")."""

import sys

import keras
import tensorflow as tf
from keras import layers

folder = sys.argv[1]
image_size = (16, 16)
train_ds = keras.utils.image_dataset_from_directory(
    folder, validation_split=0.25, subset="training", seed=1337, image_size=image_size, batch_size=8)
val_ds = keras.utils.image_dataset_from_directory(
    folder, validation_split=0.25, subset="validation", seed=1337, image_size=image_size, batch_size=8)

data_augmentation = keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomRotation(0.1)])
train_ds = train_ds.map(lambda img, label: (data_augmentation(img), label), num_parallel_calls=tf.data.AUTOTUNE)
train_ds = train_ds.prefetch(tf.data.AUTOTUNE)

inputs = keras.Input(shape=(*image_size, 3))
x = layers.Rescaling(1.0 / 255)(inputs)
x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
x = layers.GlobalAveragePooling2D()(x)
outputs = layers.Dense(3, activation="softmax")(x)
model = keras.Model(inputs, outputs, name="folder_cnn")
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"], jit_compile=True)
model.fit(train_ds, epochs=1, validation_data=val_ds, verbose=2)
print("trained", flush=True)
