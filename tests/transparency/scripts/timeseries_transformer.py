# Adapted from keras-team/keras-io examples/timeseries/timeseries_classification_transformer.py
# ("Timeseries classification with a Transformer model", Theodoros Ntakouris),
# https://github.com/keras-team/keras-io/blob/master/examples/timeseries/timeseries_classification_transformer.py
# Copyright the Keras authors, Apache License 2.0. The example's prose cells are
# shortened; every change to its code is marked `# memtui-corpus:`.
import numpy as np

np.random.seed(1337)  # memtui-corpus: seeded (the permutation below), so two runs write the same


def readucr(filename):
    data = np.loadtxt(filename, delimiter="\t")
    y = data[:, 0]
    x = data[:, 1:]
    return x, y.astype(int)


# memtui-corpus: the FordA TSV files are a download; write small synthetic ones of the same layout
# (label -1/1 in the first column, then 176 z-normalised values) and read them with the example's readucr()
def write_synthetic_forda(filename, n, rng):  # memtui-corpus: the stand-in for the download
    labels = rng.choice([-1, 1], size=(n, 1))
    values = rng.standard_normal(size=(n, 176))
    np.savetxt(filename, np.hstack([labels, values]), delimiter="\t", fmt="%.6f")


_rng = np.random.default_rng(1337)  # memtui-corpus
write_synthetic_forda("FordA_TRAIN.tsv", 64, _rng)  # memtui-corpus
write_synthetic_forda("FordA_TEST.tsv", 16, _rng)  # memtui-corpus

x_train, y_train = readucr("FordA_TRAIN.tsv")  # memtui-corpus: local file, not root_url + ...
x_test, y_test = readucr("FordA_TEST.tsv")  # memtui-corpus: local file, not root_url + ...

x_train = x_train.reshape((x_train.shape[0], x_train.shape[1], 1))
x_test = x_test.reshape((x_test.shape[0], x_test.shape[1], 1))

n_classes = len(np.unique(y_train))

idx = np.random.permutation(len(x_train))
x_train = x_train[idx]
y_train = y_train[idx]

y_train[y_train == -1] = 0
y_test[y_test == -1] = 0

from tensorflow import keras
from tensorflow.keras import layers

keras.utils.set_random_seed(1337)  # memtui-corpus: seeded, so two runs write the same


def transformer_encoder(inputs, head_size, num_heads, ff_dim, dropout=0):
    # Attention and Normalization
    x = layers.MultiHeadAttention(
        key_dim=head_size, num_heads=num_heads, dropout=dropout
    )(inputs, inputs)
    x = layers.Dropout(dropout)(x)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    res = x + inputs

    # Feed Forward Part
    x = layers.Conv1D(filters=ff_dim, kernel_size=1, activation="relu")(res)
    x = layers.Dropout(dropout)(x)
    x = layers.Conv1D(filters=inputs.shape[-1], kernel_size=1)(x)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    return x + res


def build_model(
    input_shape,
    head_size,
    num_heads,
    ff_dim,
    num_transformer_blocks,
    mlp_units,
    dropout=0,
    mlp_dropout=0,
):
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for _ in range(num_transformer_blocks):
        x = transformer_encoder(x, head_size, num_heads, ff_dim, dropout)

    x = layers.GlobalAveragePooling1D(data_format="channels_last")(x)
    for dim in mlp_units:
        x = layers.Dense(dim, activation="relu")(x)
        x = layers.Dropout(mlp_dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


input_shape = x_train.shape[1:]

model = build_model(
    input_shape,
    head_size=16,  # memtui-corpus: 16, not 256
    num_heads=2,  # memtui-corpus: 2, not 4
    ff_dim=4,
    num_transformer_blocks=1,  # memtui-corpus: 1, not 4
    mlp_units=[16],  # memtui-corpus: [16], not [128]
    mlp_dropout=0.4,
    dropout=0.25,
)

model.compile(
    loss="sparse_categorical_crossentropy",
    optimizer=keras.optimizers.Adam(learning_rate=1e-4),
    metrics=["sparse_categorical_accuracy"],
)
model.summary()

callbacks = [keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)]

model.fit(
    x_train,
    y_train,
    validation_split=0.2,
    epochs=2,  # memtui-corpus: 2, not 200
    batch_size=64,
    callbacks=callbacks,
)

model.evaluate(x_test, y_test, verbose=1)
