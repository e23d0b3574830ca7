"""A regression user module for tests: predict bill length (mm) from the other measurements."""

import tensorflow_transform as tft

from tfpipe.transform import fill_missing, fill_missing_with_mean


def preprocessing_fn(inputs):
    outputs = {}
    for name in ("bill_depth_mm", "flipper_length_mm", "body_mass_g"):
        outputs[f"{name}_z"] = tft.scale_to_z_score(fill_missing_with_mean(inputs[name]))
    outputs["species_id"] = tft.compute_and_apply_vocabulary(fill_missing(inputs["species"], ""))
    outputs["bill_length"] = fill_missing_with_mean(inputs["bill_length_mm"])
    return outputs


def model_fn(features, labels, mode, params):
    """A custom Estimator model_fn: a linear model written by hand."""
    import tensorflow as tf

    names = [f.name for f in params["features"] if f.kind == "numeric"]
    x = tf.stack([tf.cast(features[n], tf.float32) for n in names], axis=1)
    w = tf.compat.v1.get_variable("w", [len(names), 1])
    b = tf.compat.v1.get_variable("b", [1], initializer=tf.compat.v1.constant_initializer(44.0))
    predictions = tf.reshape(tf.matmul(x, w) + b, [-1])
    if mode == tf.estimator.ModeKeys.PREDICT:
        return tf.estimator.EstimatorSpec(mode, predictions={"predictions": predictions})
    loss = tf.reduce_mean(tf.square(predictions - tf.cast(labels, tf.float32)))
    train_op = tf.compat.v1.train.AdamOptimizer(params.get("learning_rate", 0.1)).minimize(
        loss, global_step=tf.compat.v1.train.get_global_step()
    )
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)
