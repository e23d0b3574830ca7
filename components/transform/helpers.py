"""Helpers for user ``preprocessing_fn``s: raw features arrive as SparseTensors (all optional)."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft


def fill_missing(x: tf.Tensor | tf.SparseTensor, default: object) -> tf.Tensor:
    """A dense ``[batch]`` tensor from an optional raw feature, ``default`` where it is missing."""
    if not isinstance(x, tf.SparseTensor):
        return x
    default = tf.cast(default, x.dtype)
    dense = tf.sparse.to_dense(
        tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]), default_value=default
    )
    return tf.squeeze(dense, axis=1)


def fill_missing_with_mean(x: tf.SparseTensor) -> tf.Tensor:
    """Impute missing numeric values with the mean of the present ones (a tf.Transform analyzer)."""
    values = tf.cast(x.values, tf.float32)
    mean = tft.mean(values)
    return fill_missing(tf.SparseTensor(x.indices, values, x.dense_shape), mean)


def scale_to_z_score_filled(x: tf.Tensor | tf.SparseTensor) -> tf.Tensor:
    """A z-scored dense ``[batch]`` float tensor; a missing value becomes 0, the mean.

    The same result as ``tft.scale_to_z_score(fill_missing_with_mean(x))`` in one analysis
    phase instead of two (the mean of the present values is computed once), so tf.Transform
    reads the data once.
    """
    if not isinstance(x, tf.SparseTensor):
        return tft.scale_to_z_score(tf.cast(x, tf.float32))
    values = tf.SparseTensor(x.indices, tf.cast(x.values, tf.float32), x.dense_shape)
    return fill_missing(tft.scale_to_z_score(values), 0.0)
