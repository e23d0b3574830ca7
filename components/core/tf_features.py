"""TensorFlow views of tfpipe schemas. Imports TensorFlow: use only inside entry points."""

from __future__ import annotations

import tensorflow as tf

from tfpipe.components.core.schema import Schema

DTYPES = {"int": tf.int64, "float": tf.float32, "string": tf.string}


def raw_feature_spec(schema: Schema) -> dict[str, tf.io.VarLenFeature]:
    """Every raw feature is optional (VarLen), so a serving request may leave any field out."""
    return {c.name: tf.io.VarLenFeature(DTYPES[c.type]) for c in schema.columns.values()}
