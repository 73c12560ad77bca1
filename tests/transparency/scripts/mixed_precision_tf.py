# Adapted from tensorflow/docs site/en/guide/mixed_precision.ipynb
# ("Mixed precision", the TensorFlow guide), its code cells up to "Training the model with Model.fit",
# https://github.com/tensorflow/docs/blob/master/site/en/guide/mixed_precision.ipynb
# Copyright 2019 The TensorFlow Authors, Apache License 2.0. The notebook's markdown
# cells are left out, and its later custom-loop section (the TF-Keras 2
# LossScaleOptimizer.get_scaled_loss API, not in Keras 3); every change to its
# code is marked `# memtui-corpus:`. The script sets its own dtype policy.
import numpy as np  # memtui-corpus: for the synthetic MNIST below
import tensorflow as tf

from tensorflow import keras
from tensorflow.keras import layers
from tensorflow.keras import mixed_precision

keras.utils.set_random_seed(1337)  # memtui-corpus: seeded, so two runs write the same

policy = mixed_precision.Policy('mixed_float16')
mixed_precision.set_global_policy(policy)

print('Compute dtype: %s' % policy.compute_dtype)
print('Variable dtype: %s' % policy.variable_dtype)

inputs = keras.Input(shape=(784,), name='digits')
if tf.config.list_physical_devices('GPU'):
  print('The model will run with 4096 units on a GPU')
  num_units = 4096
else:
  # Use fewer units on CPUs so the model finishes in a reasonable amount of time
  print('The model will run with 64 units on a CPU')
  num_units = 64
dense1 = layers.Dense(num_units, activation='relu', name='dense_1')
x = dense1(inputs)
dense2 = layers.Dense(num_units, activation='relu', name='dense_2')
x = dense2(x)

print(dense1.dtype_policy)
print('x.dtype: %s' % x.dtype)  # memtui-corpus: Keras 3 dtypes are str (`.name` dropped; it fails there)
# 'kernel' is dense1's variable
print('dense1.kernel.dtype: %s' % dense1.kernel.dtype)  # memtui-corpus: str in Keras 3 (`.name` dropped)

# INCORRECT: softmax and model output will be float16, when it should be float32
outputs = layers.Dense(10, activation='softmax', name='predictions')(x)
print('Outputs dtype: %s' % outputs.dtype)  # memtui-corpus: str in Keras 3 (`.name` dropped)

# CORRECT: softmax and model output are float32
x = layers.Dense(10, name='dense_logits')(x)
outputs = layers.Activation('softmax', dtype='float32', name='predictions')(x)
print('Outputs dtype: %s' % outputs.dtype)  # memtui-corpus: str in Keras 3 (`.name` dropped)

# The linear activation is an identity function. So this simply casts 'outputs'
# to float32. In this particular case, 'outputs' is already float32 so this is a
# no-op.
outputs = layers.Activation('linear', dtype='float32')(outputs)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(loss='sparse_categorical_crossentropy',
              optimizer=keras.optimizers.RMSprop(),
              metrics=['accuracy'])

# memtui-corpus: synthetic uint8 digits (256 train, 64 test) instead of keras.datasets.mnist.load_data()
rng = np.random.default_rng(1337)
x_train = rng.integers(0, 256, size=(256, 28, 28), dtype='uint8')
y_train = rng.integers(0, 10, size=(256,), dtype='uint8')
x_test = rng.integers(0, 256, size=(64, 28, 28), dtype='uint8')
y_test = rng.integers(0, 10, size=(64,), dtype='uint8')
x_train = x_train.reshape(256, 784).astype('float32') / 255  # memtui-corpus: 256, not 60000
x_test = x_test.reshape(64, 784).astype('float32') / 255  # memtui-corpus: 64, not 10000

initial_weights = model.get_weights()

history = model.fit(x_train, y_train,
                    batch_size=64,  # memtui-corpus: 64, not 8192
                    epochs=2,  # memtui-corpus: 2, not 5
                    validation_split=0.2)
test_scores = model.evaluate(x_test, y_test, verbose=2)
print('Test loss:', test_scores[0])
print('Test accuracy:', test_scores[1])
