"""Binary classification with a derived label (TFX style): did the respondent report an affair?

Data: statsmodels' ``fair`` dataset (Fair 1978, 6366 rows). The label is computed inside
``preprocessing_fn`` from the raw ``affairs`` column, so the Evaluator must read it through the
transform graph. The model ends in one sigmoid unit.
"""

import tensorflow as tf
import tensorflow_transform as tft

from tfpipe.transform import fill_missing, fill_missing_with_mean

NUMERIC = ["age", "yrs_married", "children", "educ"]
CATEGORICAL = ["rate_marriage", "religious", "occupation", "occupation_husb"]


def preprocessing_fn(inputs):
    outputs = {}
    for name in NUMERIC:
        outputs[f"{name}_z"] = tft.scale_to_z_score(fill_missing_with_mean(inputs[name]))
    for name in CATEGORICAL:
        text = tf.strings.as_string(tf.cast(fill_missing(inputs[name], -1.0), tf.int64))
        outputs[f"{name}_id"] = tft.compute_and_apply_vocabulary(text, num_oov_buckets=1)
    outputs["had_affair"] = tf.cast(fill_missing(inputs["affairs"], 0.0) > 0, tf.int64)
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
    for units in hparams.get("hidden_units", [32, 16]):
        x = keras.layers.Dense(units, activation="relu")(x)
    output = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, output)
    model.compile(
        optimizer=keras.optimizers.Adam(hparams.get("learning_rate", 0.005)),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc")],
    )
    return model
