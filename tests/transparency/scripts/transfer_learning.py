# Adapted from keras-team/keras-io guides/transfer_learning.py
# ("Transfer learning & fine-tuning", fchollet), its end-to-end example,
# https://github.com/keras-team/keras-io/blob/master/guides/transfer_learning.py
# Copyright the Keras authors, Apache License 2.0. The guide's prose cells and
# the first sections (snippets without training) are left out; every change to
# its code is marked `# memtui-corpus:`.
import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers

keras.utils.set_random_seed(1337)  # memtui-corpus: seeded, so two runs write the same

# memtui-corpus: tfds.load("cats_vs_dogs") is a download: 64/16/16 synthetic uint8 RGB images
# of two sizes with int64 labels stand in for the train/validation/test splits.
rng = np.random.default_rng(1337)


def synthetic_split(n):  # memtui-corpus: the stand-in for a tfds split (as_supervised=True)
    images = rng.integers(0, 256, size=(n, 40, 40, 3), dtype="uint8")
    labels = rng.integers(0, 2, size=(n,), dtype="int64")
    return tf.data.Dataset.from_tensor_slices((images, labels))


train_ds, validation_ds, test_ds = synthetic_split(64), synthetic_split(16), synthetic_split(16)

print("Number of training samples: %d" % tf.data.experimental.cardinality(train_ds))
print(
    "Number of validation samples: %d" % tf.data.experimental.cardinality(validation_ds)
)
print("Number of test samples: %d" % tf.data.experimental.cardinality(test_ds))

# memtui-corpus: the matplotlib figures of the first images are left out (no display, no matplotlib)

size = (32, 32)  # memtui-corpus: 32x32, not 150x150

train_ds = train_ds.map(lambda x, y: (tf.image.resize(x, size), y))
validation_ds = validation_ds.map(lambda x, y: (tf.image.resize(x, size), y))
test_ds = test_ds.map(lambda x, y: (tf.image.resize(x, size), y))

batch_size = 32

train_ds = train_ds.cache().batch(batch_size).prefetch(buffer_size=10)
validation_ds = validation_ds.cache().batch(batch_size).prefetch(buffer_size=10)
test_ds = test_ds.cache().batch(batch_size).prefetch(buffer_size=10)

data_augmentation = keras.Sequential(
    [
        layers.RandomFlip("horizontal"),
        layers.RandomRotation(0.1),
    ]
)

# memtui-corpus: a small randomly initialised conv base with BatchNormalization stands in for
# keras.applications.Xception(weights="imagenet", ...): the weights are a download and Xception is long on CPU
base_model = keras.Sequential(
    [
        keras.Input(shape=(32, 32, 3)),
        layers.Conv2D(8, 3, strides=2, padding="same"),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.Conv2D(16, 3, strides=2, padding="same"),
        layers.BatchNormalization(),
        layers.Activation("relu"),
    ],
    name="base_model",
)

# Freeze the base_model
base_model.trainable = False

# Create new model on top
inputs = keras.Input(shape=(32, 32, 3))  # memtui-corpus: 32x32, not 150x150
x = data_augmentation(inputs)  # Apply random data augmentation

# Pre-trained Xception weights requires that input be scaled
# from (0, 255) to a range of (-1., +1.), the rescaling layer
# outputs: `(inputs * scale) + offset`
scale_layer = keras.layers.Rescaling(scale=1 / 127.5, offset=-1)
x = scale_layer(x)

# The base model contains batchnorm layers. We want to keep them in inference mode
# when we unfreeze the base model for fine-tuning, so we make sure that the
# base_model is running in inference mode here.
x = base_model(x, training=False)
x = keras.layers.GlobalAveragePooling2D()(x)
x = keras.layers.Dropout(0.2)(x)  # Regularize with dropout
outputs = keras.layers.Dense(1)(x)
model = keras.Model(inputs, outputs)

model.summary()

model.compile(
    optimizer=keras.optimizers.Adam(),
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
    metrics=[keras.metrics.BinaryAccuracy()],
)

epochs = 2  # memtui-corpus: 2, not 20
model.fit(train_ds, epochs=epochs, validation_data=validation_ds)

# Unfreeze the base_model. Note that it keeps running in inference mode
# since we passed `training=False` when calling it. This means that
# the batchnorm layers will not update their batch statistics.
# This prevents the batchnorm layers from undoing all the training
# we've done so far.
base_model.trainable = True
model.summary()

model.compile(
    optimizer=keras.optimizers.Adam(1e-5),  # Low learning rate
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
    metrics=[keras.metrics.BinaryAccuracy()],
)

epochs = 1  # memtui-corpus: 1, not 10
model.fit(train_ds, epochs=epochs, validation_data=validation_ds)
