"""Multi-class with integer labels and no vocabulary: handwritten digits 0-9 (scikit-learn's
``load_digits``, 1797 rows of 8x8 pixel intensities). The raw label ``digit`` passes through as a
class id; ``trainer.num_classes`` says there are ten."""

import tensorflow as tf

from tfpipe.transform import fill_missing

PIXELS = [f"pixel_{i}" for i in range(64)]


def preprocessing_fn(inputs):
    outputs = {p: tf.cast(fill_missing(inputs[p], 0), tf.float32) / 16.0 for p in PIXELS}
    outputs["digit_id"] = tf.cast(fill_missing(inputs["digit"], 0), tf.int64)
    return outputs


def build_keras_model(features, hparams):
    keras = tf.keras
    inputs = {f.name: keras.Input(shape=(), name=f.name, dtype=f.dtype) for f in features}
    x = keras.layers.Concatenate()([keras.layers.Reshape((1,))(t) for t in inputs.values()])
    x = keras.layers.Dense(hparams.get("hidden", 64), activation="relu")(x)
    output = keras.layers.Dense(hparams["num_classes"], activation="softmax")(x)
    model = keras.Model(inputs, output)
    model.compile(
        optimizer=keras.optimizers.Adam(hparams.get("learning_rate", 0.01)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
