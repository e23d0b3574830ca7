"""The user code of the penguins example: all a tfpipe user writes.

``preprocessing_fn`` for tf.Transform (imputation, z-scores, vocabularies, buckets) and
``build_keras_model`` for the trainer. TensorFlow is imported here because this module only ever
runs inside a component, never while a pipeline or a DAG is being defined.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from tfpipe.transform import fill_missing, scale_to_z_score_filled

LABEL = "species"
NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
CATEGORICAL = ["island", "sex"]


def preprocessing_fn(inputs):
    outputs = {}
    for name in NUMERIC:
        outputs[f"{name}_z"] = scale_to_z_score_filled(inputs[name])
    for name in CATEGORICAL:
        outputs[f"{name}_id"] = tft.compute_and_apply_vocabulary(
            fill_missing(inputs[name], "unknown"), num_oov_buckets=1, vocab_filename=name
        )
    # Quartiles; a missing mass counts as a typical 4,200 g. (Imputing the mean computed by an
    # analyzer first would make tf.Transform read the data twice.)
    outputs["body_mass_bucket"] = tft.bucketize(
        tf.cast(fill_missing(inputs["body_mass_g"], 4200), tf.float32), num_buckets=4
    )
    outputs["label"] = tft.compute_and_apply_vocabulary(
        fill_missing(inputs[LABEL], ""), vocab_filename=LABEL
    )
    return outputs


def build_keras_model(features, hparams):
    """A small MLP over z-scored numerics and one-hot categoricals.

    ``features`` describes the transformed inputs (name, dtype, kind, num_buckets); ``hparams`` is
    the trainer's ``hyperparameters`` dict.
    """
    keras = tf.keras
    inputs, parts = {}, []
    for f in features:
        inputs[f.name] = keras.Input(shape=(), name=f.name, dtype=f.dtype)
        x = inputs[f.name]
        if f.kind == "categorical":
            x = keras.layers.CategoryEncoding(num_tokens=f.num_buckets, output_mode="one_hot")(
                keras.layers.Reshape((1,))(x)
            )
        else:
            x = keras.layers.Reshape((1,))(x)
        parts.append(x)
    x = keras.layers.Concatenate()(parts)
    for units in hparams.get("hidden_units", [16, 8]):
        x = keras.layers.Dense(units, activation="relu")(x)
    outputs = keras.layers.Dense(hparams["num_classes"], activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(hparams.get("learning_rate", 0.01)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
