"""Transformed inputs for training: feature descriptions and batched tf.data pipelines."""

from __future__ import annotations

import time
from dataclasses import dataclass

import tensorflow as tf
import tensorflow_transform as tft

from components.artifacts import TransformGraph
from components.core.errors import ParameterError
from components.trainer.params import TrainerParams


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
    """Batched (features, label) pairs, parsed and prefetched in the input pipeline."""
    spec = transform_output(transform).transformed_feature_spec()
    files = transform.transformed_files(split)
    ds = tf.data.TFRecordDataset(files)
    if repeat:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size, drop_remainder=repeat)
    ds = ds.map(lambda x: tf.io.parse_example(x, spec), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(lambda feats: (feats, feats.pop(label)))
    return ds.prefetch(tf.data.AUTOTUNE)


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
