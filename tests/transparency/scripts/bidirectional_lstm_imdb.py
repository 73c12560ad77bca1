# Adapted from keras-team/keras-io examples/nlp/bidirectional_lstm_imdb.py
# ("Bidirectional LSTM on IMDB", fchollet),
# https://github.com/keras-team/keras-io/blob/master/examples/nlp/bidirectional_lstm_imdb.py
# Copyright the Keras authors, Apache License 2.0. The example's prose cells are
# shortened; every change to its code is marked `# memtui-corpus:`.
import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

keras.utils.set_random_seed(1337)  # memtui-corpus: seeded, so two runs write the same

max_features = 20000  # Only consider the top 20k words
maxlen = 40  # memtui-corpus: 40, not 200 (the first words of each review)

# Input for variable-length sequences of integers
inputs = keras.Input(shape=(None,), dtype="int32")
# Embed each integer in a 128-dimensional vector
x = layers.Embedding(max_features, 16)(inputs)  # memtui-corpus: 16 dimensions, not 128
# Add 2 bidirectional LSTMs
x = layers.Bidirectional(layers.LSTM(8, return_sequences=True))(x)  # memtui-corpus: 8 units, not 64
x = layers.Bidirectional(layers.LSTM(8))(x)  # memtui-corpus: 8 units, not 64
# Add a classifier
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.summary()

# memtui-corpus: keras.datasets.imdb.load_data(num_words=max_features) is a download: 64/32 synthetic
# reviews of 10-60 word indices (lists of ints of varying length, as load_data returns) with 0/1 labels
_rng = np.random.default_rng(1337)  # memtui-corpus
x_train = [list(_rng.integers(1, max_features, size=_rng.integers(10, 60))) for _ in range(64)]  # memtui-corpus
y_train = _rng.integers(0, 2, size=(64,))  # memtui-corpus
x_val = [list(_rng.integers(1, max_features, size=_rng.integers(10, 60))) for _ in range(32)]  # memtui-corpus
y_val = _rng.integers(0, 2, size=(32,))  # memtui-corpus
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
# Use pad_sequence to standardize sequence length:
# this will truncate sequences longer than 200 words and zero-pad sequences shorter than 200 words.
x_train = keras.preprocessing.sequence.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.preprocessing.sequence.pad_sequences(x_val, maxlen=maxlen)

model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=2, validation_data=(x_val, y_val))
