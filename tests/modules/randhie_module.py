"""Regression: doctor visits per year (RAND Health Insurance Experiment, statsmodels' ``randhie``,
20190 rows). The raw label column is ``mdvis``."""

import tensorflow as tf
import tensorflow_transform as tft

from tfpipe.transform import fill_missing_with_mean

NUMERIC = ["lncoins", "lpi", "fmde", "physlm", "disea", "hlthg", "hlthf", "hlthp", "idp"]


def preprocessing_fn(inputs):
    outputs = {f"{n}_z": tft.scale_to_z_score(fill_missing_with_mean(inputs[n])) for n in NUMERIC}
    outputs["visits"] = fill_missing_with_mean(inputs["mdvis"])
    return outputs


def build_keras_model(features, hparams):
    keras = tf.keras
    inputs = {f.name: keras.Input(shape=(), name=f.name, dtype=f.dtype) for f in features}
    x = keras.layers.Concatenate()([keras.layers.Reshape((1,))(t) for t in inputs.values()])
    for units in hparams.get("hidden_units", [32, 16]):
        x = keras.layers.Dense(units, activation="relu")(x)
    output = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, output)
    model.compile(optimizer=keras.optimizers.Adam(hparams.get("learning_rate", 0.01)), loss="mse")
    return model
