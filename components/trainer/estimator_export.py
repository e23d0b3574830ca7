"""The serving contract from an Estimator (estimator runtime): the three signatures a Keras export
has, in one TF1 graph.

- ``serving_default``: serialized raw tf.Examples (``examples``) → predictions;
- ``transform_features``: the same examples → every transformed feature, the label included (what
  the Evaluator reads a label computed in ``preprocessing_fn`` through);
- ``serving_raw``: one named tensor per raw column (argument names from
  :func:`export.raw_argument_names`) → predictions.

An Estimator exports one graph holding one model, which every signature reaches through the same
``features``. So each raw column is built from both inputs at once — the rows parsed from
``examples``, followed by the rows given as named tensors — and every input defaults to an empty
batch: a signature feeds only its own inputs, and the others add no rows. The model_fn returns
``transform_features`` as a second export output (``uniform_estimator``). Estimators name an
alternative receiver's signatures ``<receiver>:<output>``: the export renames
``serving_raw:serving_default`` to ``serving_raw`` in ``saved_model.pb`` and drops the other
alternative (transformed features from named tensors, which nothing reads).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import tensorflow as tf

from tfpipe.components.artifacts import TransformGraph
from tfpipe.components.trainer.data import transform_output
from tfpipe.components.trainer.export import RAW_SIGNATURE, SIGNATURE, raw_argument_names


def serving_receiver(
    transform: TransformGraph, raw_label: str | None
) -> Callable[[], tf.estimator.export.ServingInputReceiver]:
    """The receiver: features are *all* transformed features (the model_fn keeps its own)."""

    def receiver() -> tf.estimator.export.ServingInputReceiver:
        output = transform_output(transform)  # fresh per export (a cached one breaks)
        raw_spec = output.raw_feature_spec()
        examples = tf.compat.v1.placeholder_with_default(
            tf.constant([], tf.string), [None], name="examples"
        )
        parsed = tf.io.parse_example(examples, raw_spec)
        named = sorted(k for k in raw_spec if k != raw_label)
        arguments = raw_argument_names(named)
        given = {
            k: tf.compat.v1.placeholder_with_default(
                tf.zeros([0], raw_spec[k].dtype), [None], name=arguments[k]
            )
            for k in named
        }
        rows = (
            tf.shape(given[named[0]], out_type=tf.int64)[0] if named else tf.constant(0, tf.int64)
        )
        raw = {}
        for name, spec in raw_spec.items():
            if name in given:  # every row has a value
                index = tf.stack([tf.range(rows), tf.zeros([rows], tf.int64)], axis=1)
                values = given[name]
            else:  # the label: never given to serving_raw
                index, values = tf.zeros([0, 2], tf.int64), tf.zeros([0], spec.dtype)
            tail = tf.SparseTensor(index, values, tf.stack([rows, 1]))
            raw[name] = tf.sparse.concat(0, [parsed[name], tail], expand_nonconcat_dims=True)
        transformed = output.transform_raw_features(raw, drop_unused_features=True)
        return tf.estimator.export.ServingInputReceiver(
            transformed,
            {"examples": examples},
            receiver_tensors_alternatives={RAW_SIGNATURE: {arguments[k]: given[k] for k in named}},
        )

    return receiver


def name_raw_signature(export_dir: str) -> None:
    """``serving_raw:serving_default`` → ``serving_raw``; other ``serving_raw:*`` dropped."""
    from tensorflow.core.protobuf import saved_model_pb2

    path = os.path.join(export_dir, "saved_model.pb")
    model = saved_model_pb2.SavedModel()
    with open(path, "rb") as f:
        model.ParseFromString(f.read())
    for meta_graph in model.meta_graphs:
        signatures = meta_graph.signature_def
        alternative = f"{RAW_SIGNATURE}:{SIGNATURE}"
        if alternative not in signatures:
            raise RuntimeError(f"the Estimator export in {export_dir} has no '{alternative}'")
        signatures[RAW_SIGNATURE].CopyFrom(signatures[alternative])
        for key in [k for k in signatures if k.startswith(f"{RAW_SIGNATURE}:")]:
            del signatures[key]
    with open(path + ".tmp", "wb") as f:
        f.write(model.SerializeToString())
    os.replace(path + ".tmp", path)
