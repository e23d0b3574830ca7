"""TensorFlow views of tfpipe schemas and artifacts.

Imports TensorFlow: use only inside entry points.
"""

from __future__ import annotations

import glob
import os

import tensorflow as tf

from components.core.artifacts import Artifact
from components.core.errors import InputDataError
from components.core.schema import Schema

DTYPES = {"int": tf.int64, "float": tf.float32, "string": tf.string}


def raw_feature_spec(schema: Schema) -> dict[str, tf.io.VarLenFeature]:
    """Every raw feature is optional (VarLen), so a serving request may leave any field out."""
    return {c.name: tf.io.VarLenFeature(DTYPES[c.type]) for c in schema.columns}


def example_schema(examples: Artifact) -> Schema:
    return Schema.load(examples.path("schema.json"))


def split_files(artifact: Artifact, split: str, subdir: str = "splits") -> list[str]:
    files = sorted(glob.glob(os.path.join(artifact.uri, subdir, split, "*.tfrecord*")))
    if not files:
        available = sorted(os.listdir(os.path.join(artifact.uri, subdir)))
        raise InputDataError(
            f"{artifact.type} artifact {artifact.uri} has no '{split}' split "
            f"(splits: {available}); adjust the split parameters"
        )
    return files
