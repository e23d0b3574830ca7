"""The Chicago-taxi user module of TFX's example, for tfpipe: did the rider tip more than 20 %?

``preprocessing_fn``: z-scores of 3 numbers (missing → the mean), vocabularies of payment type and
company (top 1000 + 1 OOV bucket), 10-quantile buckets of 4 coordinates, 5 integer categoricals
passed through, and the label derived from two raw columns (``tips > 0.2 * fare``), so the
Evaluator reads it through the transform graph. One analysis phase: tf.Transform reads the train
split once. ``build_keras_model``: a small wide-and-deep network with one sigmoid output (with
``wide_cross``: a pickup × dropoff area cross, one-hot 6,084 wide, for memory benchmarks).
"""

import tensorflow as tf
import tensorflow_transform as tft

from tfpipe.transform import fill_missing, scale_to_z_score_filled

DENSE_FLOAT = ["trip_miles", "fare", "trip_seconds"]
VOCABULARY = ["payment_type", "company"]
VOCAB_SIZE, OOV = 1000, 1
BUCKETIZED = ["pickup_latitude", "pickup_longitude", "dropoff_latitude", "dropoff_longitude"]
BUCKETS = 10
# Integer categoricals and how many ids each can take (hour 0-23, day 1-7, month 1-12, area 1-77).
CATEGORICAL = {
    "trip_start_hour": 24,
    "trip_start_day": 8,
    "trip_start_month": 13,
    "pickup_community_area": 78,
    "dropoff_community_area": 78,
}


def preprocessing_fn(inputs):
    outputs = {}
    for key in DENSE_FLOAT:
        outputs[f"{key}_xf"] = scale_to_z_score_filled(inputs[key])
    for key in VOCABULARY:
        outputs[f"{key}_xf"] = tft.compute_and_apply_vocabulary(
            fill_missing(inputs[key], ""), top_k=VOCAB_SIZE, num_oov_buckets=OOV, vocab_filename=key
        )
    for key in BUCKETIZED:
        outputs[f"{key}_xf"] = tft.bucketize(fill_missing(inputs[key], 0.0), BUCKETS)
    for key in CATEGORICAL:
        outputs[f"{key}_xf"] = fill_missing(inputs[key], 0)
    fare = tf.cast(fill_missing(inputs["fare"], 0.0), tf.float32)
    tips = tf.cast(fill_missing(inputs["tips"], 0.0), tf.float32)
    outputs["tipped"] = tf.cast(tips > 0.2 * fare, tf.int64)
    return outputs


def build_keras_model(features, hparams):
    keras = tf.keras
    inputs, wide, deep = {}, [], []
    for f in features:
        x = inputs[f.name] = keras.Input(shape=(), name=f.name, dtype=f.dtype)
        column = keras.layers.Reshape((1,))(x)
        raw = f.name.removesuffix("_xf")
        if raw in CATEGORICAL:
            wide.append(
                keras.layers.CategoryEncoding(CATEGORICAL[raw], output_mode="one_hot")(column)
            )
        elif raw == "company":
            deep.append(keras.layers.Flatten()(keras.layers.Embedding(f.num_buckets, 8)(column)))
        elif f.kind == "categorical":
            wide.append(keras.layers.CategoryEncoding(f.num_buckets, output_mode="one_hot")(column))
        else:
            deep.append(column)
    if hparams.get("wide_cross"):
        # Pickup × dropoff area, one-hot: 78 × 78 = 6,084 wide (the benchmark's wide model).
        pickup, dropoff = (
            keras.layers.Reshape((1,))(inputs[f"{area}_community_area_xf"])
            for area in ("pickup", "dropoff")
        )
        cross = keras.layers.Lambda(lambda pair: pair[0] * 78 + pair[1])([pickup, dropoff])
        wide.append(keras.layers.CategoryEncoding(78 * 78, output_mode="one_hot")(cross))
    x = keras.layers.Concatenate()(deep)
    for units in hparams.get("hidden_units", [64, 32]):
        x = keras.layers.Dense(units, activation="relu")(x)
    x = keras.layers.Concatenate()([x, *wide])
    output = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, output)
    model.compile(
        optimizer=keras.optimizers.Adam(hparams.get("learning_rate", 0.003)),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc")],
    )
    return model
