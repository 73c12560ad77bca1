"""Transfer-learning style: train the head, then unfreeze and fine-tune with a
second fit() (after keras-io's "Transfer learning & fine-tuning")."""

import keras
import numpy as np

x = np.random.default_rng(4).random((128, 8, 8, 3), dtype=np.float32)
y = np.random.default_rng(5).integers(0, 2, 128)

base = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                         keras.layers.GlobalAveragePooling2D()], name="base")
base.trainable = False
model = keras.Sequential([base, keras.layers.Dense(1, activation="sigmoid")], name="finetune")
model.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy", metrics=["binary_accuracy"])
model.fit(x, y, epochs=1, batch_size=32, verbose=0)

base.trainable = True
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="binary_crossentropy", metrics=["binary_accuracy"])
model.fit(x, y, epochs=1, batch_size=64, verbose=0)
print("trained", flush=True)
