# Adapted from keras-team/keras-io examples/nlp/text_classification_from_scratch.py
# ("Text classification from scratch", Mark Omernick, Francois Chollet),
# https://github.com/keras-team/keras-io/blob/master/examples/nlp/text_classification_from_scratch.py
# Copyright the Keras authors, Apache License 2.0. The example's prose cells are
# shortened; every change to its code is marked `# memtui-corpus:`.
import os

os.environ["KERAS_BACKEND"] = "tensorflow"

import keras
import tensorflow as tf
import numpy as np
from keras import layers

keras.utils.set_random_seed(1337)  # memtui-corpus: seeded, so two runs write the same

# memtui-corpus: the IMDB archive (aclImdb_v1.tar.gz) is a download: write a tiny synthetic one
# in its layout instead (aclImdb/{train,test}/{pos,neg}/*.txt, reviews with <br /> tags)
_rng = np.random.default_rng(1337)  # memtui-corpus
_words = {"pos": ["great", "wonderful", "loved", "superb", "fun"], "neg": ["awful", "boring", "hated", "dull", "bad"]}  # memtui-corpus
for _split, _count in (("train", 40), ("test", 16)):  # memtui-corpus
    for _label in ("pos", "neg"):  # memtui-corpus
        os.makedirs(os.path.join("aclImdb", _split, _label), exist_ok=True)  # memtui-corpus
        for _i in range(_count):  # memtui-corpus
            _text = " ".join(_rng.choice(_words[_label] + ["the", "movie", "was", "a"], size=12))  # memtui-corpus
            with open(os.path.join("aclImdb", _split, _label, f"{_i}_7.txt"), "w") as _f:  # memtui-corpus
                _f.write(_text.capitalize() + ".<br /><br />" + _text + "!")  # memtui-corpus
dataset_dir = "aclImdb"  # memtui-corpus: the local archive, not keras.utils.get_file(...)

batch_size = 32
train_dir = os.path.join(dataset_dir, "train")
test_dir = os.path.join(dataset_dir, "test")

raw_train_ds = keras.utils.text_dataset_from_directory(
    train_dir,
    batch_size=batch_size,
    validation_split=0.2,
    subset="training",
    seed=1337,
    class_names=["pos", "neg"],
)
raw_val_ds = keras.utils.text_dataset_from_directory(
    train_dir,
    batch_size=batch_size,
    validation_split=0.2,
    subset="validation",
    seed=1337,
    class_names=["pos", "neg"],
)
raw_test_ds = keras.utils.text_dataset_from_directory(test_dir, batch_size=batch_size)

print(f"Number of batches in raw_train_ds: {raw_train_ds.cardinality()}")
print(f"Number of batches in raw_val_ds: {raw_val_ds.cardinality()}")
print(f"Number of batches in raw_test_ds: {raw_test_ds.cardinality()}")

# It's important to take a look at your raw data to ensure your normalization
# and tokenization will work as expected. We can do that by taking a few
# examples from the training set and looking at them.
# This is one of the places where eager execution shines:
# we can just evaluate these tensors using .numpy()
# instead of needing to evaluate them in a Session/Graph context.
for text_batch, label_batch in raw_train_ds.take(1):
    for i in range(5):
        print(text_batch.numpy()[i])
        print(label_batch.numpy()[i])

import string
import re


# Having looked at our data above, we see that the raw text contains HTML break
# tags of the form '<br />'. These tags will not be removed by the default
# standardizer (which doesn't strip HTML). Because of this, we will need to
# create a custom standardization function.
def custom_standardization(input_data):
    lowercase = tf.strings.lower(input_data)
    stripped_html = tf.strings.regex_replace(lowercase, "<br />", " ")
    return tf.strings.regex_replace(
        stripped_html, f"[{re.escape(string.punctuation)}]", ""
    )


# Model constants.
max_features = 20000
embedding_dim = 16  # memtui-corpus: 16, not 128
sequence_length = 64  # memtui-corpus: 64, not 500

# Now that we have our custom standardization, we can instantiate our text
# vectorization layer. We are using this layer to normalize, split, and map
# strings to integers, so we set our 'output_mode' to 'int'.
# Note that we're using the default split function,
# and the custom standardization defined above.
# We also set an explicit maximum sequence length, since the CNNs later in our
# model won't support ragged sequences.
vectorize_layer = keras.layers.TextVectorization(
    standardize=custom_standardization,
    max_tokens=max_features,
    output_mode="int",
    output_sequence_length=sequence_length,
)

# Let's make a text-only dataset (no labels):
text_ds = raw_train_ds.map(lambda x, y: x)
# Let's call `adapt`:
vectorize_layer.adapt(text_ds)


def vectorize_text(text, label):
    text = tf.expand_dims(text, -1)
    return vectorize_layer(text), label


# Vectorize the data.
train_ds = raw_train_ds.map(vectorize_text)
val_ds = raw_val_ds.map(vectorize_text)
test_ds = raw_test_ds.map(vectorize_text)

# Do async prefetching / buffering of the data for best performance on GPU.
train_ds = train_ds.cache().prefetch(buffer_size=10)
val_ds = val_ds.cache().prefetch(buffer_size=10)
test_ds = test_ds.cache().prefetch(buffer_size=10)

# A integer input for vocab indices.
inputs = keras.Input(shape=(None,), dtype="int64")

# Next, we add a layer to map those vocab indices into a space of dimensionality
# 'embedding_dim'.
x = layers.Embedding(max_features, embedding_dim)(inputs)
x = layers.Dropout(0.5)(x)

# Conv1D + global max pooling
x = layers.Conv1D(16, 7, padding="valid", activation="relu", strides=3)(x)  # memtui-corpus: 16 filters, not 128
x = layers.Conv1D(16, 7, padding="valid", activation="relu", strides=3)(x)  # memtui-corpus: 16 filters, not 128
x = layers.GlobalMaxPooling1D()(x)

# We add a vanilla hidden layer:
x = layers.Dense(16, activation="relu")(x)  # memtui-corpus: 16 units, not 128
x = layers.Dropout(0.5)(x)

# We project onto a single unit output layer, and squash it with a sigmoid:
predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)

model = keras.Model(inputs, predictions)

# Compile the model with binary crossentropy loss and an adam optimizer.
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

epochs = 2  # memtui-corpus: 2, not 3

# Fit the model using the train and test datasets.
model.fit(train_ds, validation_data=val_ds, epochs=epochs)

model.evaluate(test_ds)

# A string input
inputs = keras.Input(shape=(1,), dtype="string")
# Turn strings into vocab indices
indices = vectorize_layer(inputs)
# Turn vocab indices into predictions
outputs = model(indices)

# Our end to end model
end_to_end_model = keras.Model(inputs, outputs)
end_to_end_model.compile(
    loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"]
)

# Test it with `raw_test_ds`, which yields raw strings
end_to_end_model.evaluate(raw_test_ds)
