"""TensorFlow views of tfpipe schemas. Imports TensorFlow: use only inside entry points."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfpipe.components.core.schema import Schema

DTYPES = {"int": tf.int64, "float": tf.float32, "string": tf.string}


def raw_feature_spec(schema: Schema) -> dict[str, tf.io.VarLenFeature]:
    """Every raw feature is optional (VarLen), so a serving request may leave any field out."""
    return {c.name: tf.io.VarLenFeature(DTYPES[c.type]) for c in schema.columns.values()}


def feature_types(spec: dict[str, Any]) -> dict[str, str]:
    """A raw feature spec as tfpipe column types (``{"name": "int" | "float" | "string"}``): what a
    model's ``serving_default`` parses, recorded with the model so that a scorer can encode new
    data the way the model reads it without loading it."""
    kinds = {dtype: kind for kind, dtype in DTYPES.items()}
    return {name: kinds[feature.dtype] for name, feature in sorted(spec.items())}
