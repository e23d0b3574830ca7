"""Test helpers that act as a serving client: build raw tf.Examples, call ``serving_default``."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfpipe.components.artifacts import Examples, open_artifact


def raw_example(row: dict[str, Any]) -> bytes:
    """A serialized tf.Example from a raw row; ``None`` values are left out (a missing field)."""
    features = {}
    for name, value in row.items():
        if value is None:
            continue
        if isinstance(value, str):
            feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
        elif isinstance(value, int):
            feature = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
        else:
            feature = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
        features[name] = feature
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def load_serving(export_dir: str):
    return tf.saved_model.load(export_dir).signatures["serving_default"]


def served_accuracy(export_dir: str, examples_uri: str, label: str) -> float:
    """Accuracy of the served model on raw eval examples, computed without the Evaluator."""
    serve = load_serving(export_dir)
    files = open_artifact(examples_uri, Examples).split_files("eval")
    correct = total = 0
    for batch in tf.data.TFRecordDataset(files).batch(256):
        labels = tf.io.parse_example(batch, {label: tf.io.FixedLenFeature([], tf.string)})[label]
        predicted = serve(examples=batch)["classes"]
        correct += int(tf.reduce_sum(tf.cast(tf.equal(labels, predicted), tf.int32)))
        total += int(batch.shape[0])
    return correct / total
