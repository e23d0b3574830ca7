"""The penguins user module with one transformed feature's spec changed: ``island_id`` gets two
out-of-vocabulary buckets instead of one (one more id, so a wider one-hot input). A model served
from the original module cannot warm start a model trained on this one."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from tfpipe.pipelines.penguins.user_module import NUMERIC, build_keras_model  # noqa: F401
from tfpipe.transform import fill_missing, scale_to_z_score_filled


def preprocessing_fn(inputs):
    outputs = {f"{name}_z": scale_to_z_score_filled(inputs[name]) for name in NUMERIC}
    outputs["island_id"] = tft.compute_and_apply_vocabulary(
        fill_missing(inputs["island"], "unknown"), num_oov_buckets=2, vocab_filename="island"
    )
    outputs["sex_id"] = tft.compute_and_apply_vocabulary(
        fill_missing(inputs["sex"], "unknown"), num_oov_buckets=1, vocab_filename="sex"
    )
    outputs["body_mass_bucket"] = tft.bucketize(
        tf.cast(fill_missing(inputs["body_mass_g"], 4200), tf.float32), num_buckets=4
    )
    outputs["label"] = tft.compute_and_apply_vocabulary(
        fill_missing(inputs["species"], ""), vocab_filename="species"
    )
    return outputs
