"""Transformed inputs for training: feature descriptions and batched tf.data pipelines."""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf
import tensorflow_transform as tft

from components.core.artifacts import Artifact
from components.core.errors import ParameterError
from components.core.tf_features import split_files


@dataclass(frozen=True)
class FeatureInfo:
    """What a model builder needs to know about one transformed feature."""

    name: str
    dtype: tf.DType
    kind: str  # "numeric" | "categorical"
    num_buckets: int = 0


def transform_output(transform: Artifact) -> tft.TFTransformOutput:
    """A fresh TFTransformOutput: a cached one reused across exports breaks the second export."""
    return tft.TFTransformOutput(transform.path("transform_graph"))


def describe_features(output: tft.TFTransformOutput, label: str) -> tuple[list[FeatureInfo], int]:
    """Feature descriptions (label excluded) and the label's class count (0 if not categorical)."""
    spec = output.transformed_feature_spec()
    if label not in spec:
        raise ParameterError(
            f"trainer.label '{label}' is not a transformed feature; preprocessing_fn outputs: "
            f"{sorted(spec)}"
        )
    schema = output.transformed_metadata.schema
    domains = {f.name: f for f in schema.feature}
    infos, num_classes = [], 0
    for name in sorted(spec):
        feature = domains[name]
        categorical = feature.HasField("int_domain")
        buckets = int(feature.int_domain.max) + 1 if categorical else 0
        if name == label:
            num_classes = buckets
            continue
        kind = "categorical" if categorical else "numeric"
        infos.append(FeatureInfo(name, spec[name].dtype, kind, buckets))
    return infos, num_classes


def make_dataset(
    transform: Artifact,
    split: str,
    output: tft.TFTransformOutput,
    label: str,
    batch_size: int,
    *,
    repeat: bool,
    seed: int,
) -> tf.data.Dataset:
    """Batched (features, label) pairs, parsed and prefetched in the input pipeline."""
    spec = output.transformed_feature_spec()
    files = split_files(transform, split, "transformed")
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
    import time

    iterator = iter(ds)
    next(iterator)  # warm-up: file open, first parse
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)
