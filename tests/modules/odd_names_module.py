"""Penguins under the column names a spreadsheet export gives them: spaces, punctuation, unicode,
a leading digit, and two columns whose names differ only in case. The module uses them as they
are; nothing is renamed for tfpipe's sake."""

import tensorflow as tf
import tensorflow_transform as tft

from tfpipe.transform import fill_missing, scale_to_z_score_filled

NUMERIC = ["bill length (mm)", "bill-depth/mm", "flipper länge mm", "1st body mass g"]
CATEGORICAL = ["Island", "island", "sex"]


def preprocessing_fn(inputs):
    outputs = {}
    for name in NUMERIC:
        outputs[f"{name} z"] = scale_to_z_score_filled(inputs[name])
    for name in CATEGORICAL:
        outputs[f"{name} id"] = tft.compute_and_apply_vocabulary(
            fill_missing(inputs[name], "unknown"), num_oov_buckets=1
        )
    outputs["species label"] = tft.compute_and_apply_vocabulary(
        fill_missing(inputs["Species (label)"], ""), vocab_filename="species"
    )
    return outputs


def build_keras_model(features, hparams):
    keras = tf.keras
    inputs, parts = {}, []
    for f in features:
        inputs[f.name] = keras.Input(shape=(), name=f.name, dtype=f.dtype)
        x = keras.layers.Reshape((1,))(inputs[f.name])
        if f.kind == "categorical":
            x = keras.layers.CategoryEncoding(num_tokens=f.num_buckets, output_mode="one_hot")(x)
        parts.append(x)
    x = keras.layers.Concatenate()(parts)
    x = keras.layers.Dense(16, activation="relu")(x)
    outputs = keras.layers.Dense(hparams["num_classes"], activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
