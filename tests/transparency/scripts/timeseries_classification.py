# Adapted from keras-team/keras-io examples/timeseries/timeseries_classification_from_scratch.py
# ("Timeseries classification from scratch", hfawaz; the 2020/08/21 version),
# https://github.com/keras-team/keras-io/blob/master/examples/timeseries/timeseries_classification_from_scratch.py
# Copyright the Keras authors, Apache License 2.0. The example's prose cells are
# shortened; every change to its code is marked `# memtui-corpus:`.
import tensorflow as tf
from tensorflow import keras
import numpy as np

# memtui-corpus: `import matplotlib.pyplot as plt` and its figures are left out (no display, no matplotlib)
# memtui-corpus: `from sklearn.metrics import accuracy_score` is left out (no scikit-learn): a NumPy mean instead, below

keras.utils.set_random_seed(1337)  # memtui-corpus: seeded, so two runs write the same


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


rng = np.random.default_rng(1337)  # memtui-corpus: the stand-in's random source
write_synthetic_forda("FordA_TRAIN.tsv", 80, rng)  # memtui-corpus
write_synthetic_forda("FordA_TEST.tsv", 32, rng)  # memtui-corpus

x_train, y_train = readucr("FordA_TRAIN.tsv")  # memtui-corpus: local file, not root_url + ...
x_test, y_test = readucr("FordA_TEST.tsv")  # memtui-corpus: local file, not root_url + ...

classes = np.unique(np.concatenate((y_train, y_test), axis=0))

x_train = x_train.reshape((x_train.shape[0], x_train.shape[1], 1))
x_test = x_test.reshape((x_test.shape[0], x_test.shape[1], 1))

num_classes = len(np.unique(y_train))

idx = np.random.permutation(len(x_train))
x_train = x_train[idx]
y_train = y_train[idx]

y_train[y_train == -1] = 0
y_test[y_test == -1] = 0


def make_model(input_shape):
    input_layer = keras.layers.Input(input_shape)

    conv1 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(input_layer)
    conv1 = keras.layers.BatchNormalization()(conv1)
    conv1 = keras.layers.ReLU()(conv1)

    conv2 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv1)
    conv2 = keras.layers.BatchNormalization()(conv2)
    conv2 = keras.layers.ReLU()(conv2)

    conv3 = keras.layers.Conv1D(filters=64, kernel_size=3, padding="same")(conv2)
    conv3 = keras.layers.BatchNormalization()(conv3)
    conv3 = keras.layers.ReLU()(conv3)

    gap = keras.layers.GlobalAveragePooling1D()(conv3)

    output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)

    return keras.models.Model(inputs=input_layer, outputs=output_layer)


model = make_model(input_shape=x_train.shape[1:])
# memtui-corpus: keras.utils.plot_model(model, show_shapes=True) left out (it needs pydot and graphviz)

epochs = 3  # memtui-corpus: 3, not 500
batch_size = 32

callbacks = [
    keras.callbacks.ModelCheckpoint(
        "best_model.h5", save_best_only=True, monitor="val_loss"
    ),
    keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=0.5, patience=1, min_lr=0.0001  # memtui-corpus: patience 1, not 20
    ),
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, verbose=1),  # memtui-corpus: patience 2, not 50
]
model.compile(
    optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
)
history = model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=epochs,
    callbacks=callbacks,
    validation_split=0.2,
    verbose=1,
)

model = keras.models.load_model("best_model.h5")

y_pred = model.predict(x_test).argmax(axis=1)

print("Test accuracy", np.mean(y_pred == y_test))  # memtui-corpus: np.mean, not sklearn's accuracy_score

metric = "accuracy"
# memtui-corpus: the training-curve figure is left out (no matplotlib)
