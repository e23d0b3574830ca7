"""The taxi user module with vocabularies that do not re-order as a window moves: every value
kept (no ``top_k``), ordered by the value's fingerprint instead of its count
(``fingerprint_shuffle``). A model trained on one window can then warm start the next one's
(``benchmarks/warm_start_bench.py --stable-vocabularies``); with count-ordered vocabularies the
ids of similar-count values swap from window to window and a warm start is refused."""

import importlib.util
import os

import tensorflow as tf
import tensorflow_transform as tft

from tfpipe.transform import fill_missing, scale_to_z_score_filled

# The taxi module beside this file (loaded by path: a component process imports user modules by
# file, not as a package).
_spec = importlib.util.spec_from_file_location(
    "taxi_user_module", os.path.join(os.path.dirname(os.path.abspath(__file__)), "user_module.py")
)
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)
DENSE_FLOAT, VOCABULARY, OOV = base.DENSE_FLOAT, base.VOCABULARY, base.OOV
BUCKETIZED, BUCKETS, CATEGORICAL = base.BUCKETIZED, base.BUCKETS, base.CATEGORICAL


def build_keras_model(features, hparams):
    """The taxi module's wide-and-deep model, unchanged."""
    return base.build_keras_model(features, hparams)


def preprocessing_fn(inputs):
    outputs = {}
    for key in DENSE_FLOAT:
        outputs[f"{key}_xf"] = scale_to_z_score_filled(inputs[key])
    for key in VOCABULARY:
        outputs[f"{key}_xf"] = tft.compute_and_apply_vocabulary(
            fill_missing(inputs[key], ""),
            num_oov_buckets=OOV,
            vocab_filename=key,
            fingerprint_shuffle=True,
        )
    for key in BUCKETIZED:
        outputs[f"{key}_xf"] = tft.bucketize(fill_missing(inputs[key], 0.0), BUCKETS)
    for key in CATEGORICAL:
        outputs[f"{key}_xf"] = fill_missing(inputs[key], 0)
    fare = tf.cast(fill_missing(inputs["fare"], 0.0), tf.float32)
    tips = tf.cast(fill_missing(inputs["tips"], 0.0), tf.float32)
    outputs["tipped"] = tf.cast(tips > 0.2 * fare, tf.int64)
    return outputs
