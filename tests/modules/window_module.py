"""A preprocessing_fn with one analyzer of each kind tf.Transform caches per dataset: mean and
variance (z-score), min and max (0-1 scaling), a vocabulary, and quantiles (bucketize); the label
is derived from a raw column (TFX style). Data: statsmodels' ``fair``. Every analyzer is in the
first phase (no analyzer's input depends on another's output), so each drop's accumulators are
enough for any window."""

import tensorflow as tf
import tensorflow_transform as tft

from tfpipe.transform import fill_missing, scale_to_z_score_filled


def preprocessing_fn(inputs):
    married = fill_missing(inputs["yrs_married"], 0.0)
    occupation = tf.strings.as_string(tf.cast(fill_missing(inputs["occupation"], -1.0), tf.int64))
    return {
        "age_z": scale_to_z_score_filled(inputs["age"]),
        "married_01": tft.scale_to_0_1(married),
        "married_bucket": tft.bucketize(married, num_buckets=4),
        "occupation_id": tft.compute_and_apply_vocabulary(occupation, num_oov_buckets=1),
        "had_affair": tf.cast(fill_missing(inputs["affairs"], 0.0) > 0, tf.int64),
    }
