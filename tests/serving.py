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


def eval_rows(examples_uri: str) -> tuple[list[tf.Tensor], list[dict[str, Any]]]:
    """The eval split as batches of serialized raw tf.Examples, and the same rows decoded."""
    files = open_artifact(examples_uri, Examples).split_files("eval")
    batches = list(tf.data.TFRecordDataset(files).batch(512))
    rows = []
    for batch in batches:
        for record in batch.numpy():
            features = tf.train.Example.FromString(record).features.feature
            rows.append(
                {k: next(iter(getattr(f, f.WhichOneof("kind")).value)) for k, f in features.items()}
            )
    return batches, rows


def transformed_feature(export_dir: str, examples_uri: str, name: str) -> Any:
    """One transformed feature (e.g. the label) of every eval row, through the model's own
    ``transform_features`` signature."""
    import numpy as np

    transform = tf.saved_model.load(export_dir).signatures["transform_features"]
    batches, _ = eval_rows(examples_uri)
    return np.concatenate([transform(examples=b)[name].numpy().reshape(-1) for b in batches])


def check_serving_raw(export_dir: str, examples_uri: str, arguments: dict[str, str]) -> int:
    """``serving_raw`` (one tensor per raw column, named as the model's info records) serves the
    same probabilities or predictions as ``serving_default`` on the eval rows that have every
    column; returns how many rows were compared."""
    import numpy as np

    loaded = tf.saved_model.load(export_dir)
    raw, default = loaded.signatures["serving_raw"], loaded.signatures["serving_default"]
    _, rows = eval_rows(examples_uri)
    complete = [r for r in rows if all(c in r for c in arguments)][:256]
    specs = raw.structured_input_signature[1]
    feed = {a: tf.constant([r[c] for r in complete], specs[a].dtype) for c, a in arguments.items()}
    served_raw = raw(**feed)
    examples = tf.constant([raw_example({c: _python(r[c]) for c in arguments}) for r in complete])
    served = default(examples=examples)
    key = "probabilities" if "probabilities" in served else "predictions"
    np.testing.assert_allclose(served_raw[key].numpy(), served[key].numpy(), rtol=1e-5, atol=1e-6)
    return len(complete)


def _python(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value
