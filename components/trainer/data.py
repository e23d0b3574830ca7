"""Transformed inputs for training: feature descriptions and batched tf.data pipelines."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from tfpipe.components.artifacts import TransformGraph
from tfpipe.components.core.errors import ParameterError
from tfpipe.components.trainer.params import TrainerParams


@dataclass(frozen=True)
class FeatureInfo:
    """What a model builder needs to know about one transformed feature."""

    name: str
    dtype: tf.DType
    kind: str  # "numeric" | "categorical"
    num_buckets: int = 0


@dataclass(frozen=True)
class TransformedSchema:
    features: list[FeatureInfo]  # the label excluded
    num_classes: int  # 0 when the label is not categorical
    classes: list[str] | None  # class names, when the label has a vocabulary


def transform_output(transform: TransformGraph) -> tft.TFTransformOutput:
    """A fresh TFTransformOutput: a cached one reused across exports breaks the second export."""
    return tft.TFTransformOutput(transform.graph_dir)


def label_names(output: tft.TFTransformOutput, vocabulary: str | None) -> list[str] | None:
    if not vocabulary:
        return None
    values = output.vocabulary_by_name(vocabulary)
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def describe_features(transform: TransformGraph, p: TrainerParams) -> TransformedSchema:
    output = transform_output(transform)
    spec = output.transformed_feature_spec()
    if p.label not in spec:
        raise ParameterError(
            f"trainer.label '{p.label}' is not a transformed feature; preprocessing_fn outputs: "
            f"{sorted(spec)}"
        )
    domains = {f.name: f for f in output.transformed_metadata.schema.feature}
    infos, num_classes = [], 0
    for name in sorted(spec):
        feature = domains[name]
        categorical = feature.HasField("int_domain")
        buckets = int(feature.int_domain.max) + 1 if categorical else 0
        if name == p.label:
            num_classes = buckets
            continue
        kind = "categorical" if categorical else "numeric"
        infos.append(FeatureInfo(name, spec[name].dtype, kind, buckets))
    classes = label_names(output, p.label_vocabulary) if p.task == "classification" else None
    return TransformedSchema(infos, num_classes, classes)


def make_dataset(
    transform: TransformGraph,
    split: str,
    label: str,
    batch_size: int,
    *,
    repeat: bool,
    seed: int,
) -> tf.data.Dataset:
    """Batched (features, label) pairs, read from every shard, parsed and prefetched.

    From the materialized transformed split when Transform wrote one; otherwise from the raw
    examples, through the transform graph inside the input pipeline (TFX's materialize=False):
    only the rows training reads are transformed.
    """
    output = transform_output(transform)
    if transform.materialized:
        files = transform.transformed_files(split)
        spec = output.transformed_feature_spec()

        def features(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
            return tf.io.parse_example(serialized, spec)
    else:
        files = transform.input("examples").split_files(split)
        raw_spec = output.raw_feature_spec()
        apply = transform_fn(output)

        def features(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
            return apply(tf.io.parse_example(serialized, raw_spec))

    ds = tf.data.Dataset.from_tensor_slices(files)
    if repeat:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if repeat:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size, drop_remainder=repeat)
    ds = ds.map(features, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(lambda feats: (feats, feats.pop(label)))
    return ds.prefetch(tf.data.AUTOTUNE)


_INPUT_LAYERS: dict[str, Any] = {}


def transform_fn(output: tft.TFTransformOutput):
    """Raw parsed features → transformed ones: the Keras layer (TF2; one per graph, shared by the
    train and eval input pipelines: loading it costs about a second), or the graph import an
    Estimator's input_fn (TF1 graph mode) needs."""
    if tf.executing_eagerly():
        key = output.transform_savedmodel_dir
        if key not in _INPUT_LAYERS:
            _INPUT_LAYERS[key] = output.transform_features_layer()
        layer = _INPUT_LAYERS[key]
        return lambda raw: dict(layer(raw))
    return lambda raw: dict(output.transform_raw_features(raw, drop_unused_features=True))


def input_throughput(ds: tf.data.Dataset, batches: int, batch_size: int) -> float:
    """Examples/s the input pipeline alone delivers (read, parse, batch), without training.

    Compared with training examples/s it gives the share of a training step's time that input
    preparation costs: near 0 means compute-bound, near 1 means the model waits on input.
    """
    iterator = iter(ds)
    next(iterator)  # warm-up: file open, first parse
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)
