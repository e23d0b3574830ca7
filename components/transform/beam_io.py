"""Beam I/O for Transform: tf.Example TFRecord shards in as Arrow record batches, transformed
record batches out as tf.Example shards.

Reading whole shards in a DoFn (one element per file) keeps batches large (``BATCH`` rows), which
is where tf.Transform is fast; decoding uses ``tf.io.parse_example`` in a tf.function (about twice
tfx-bsl's decoder here). These DoFns live in a module (not ``__main__``) so that multi-process and
portable runners can unpickle them in their workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa

BATCH = 10_000


class ParsingDecoder:
    """Serialized tf.Examples → an Arrow RecordBatch of list columns (missing value: empty list),
    the layout TFXIO's TensorAdapter expects."""

    def __init__(self, feature_spec: dict[str, Any]) -> None:
        import tensorflow as tf

        self.names = sorted(feature_spec)
        self.parse = tf.function(
            lambda x: tf.io.parse_example(x, feature_spec),
            input_signature=[tf.TensorSpec([None], tf.string)],
        )

    def decode(self, records: list[bytes]) -> pa.RecordBatch:
        import tensorflow as tf

        n = len(records)
        parsed = self.parse(tf.constant(records))
        arrays = []
        for name in self.names:
            sparse = parsed[name]
            values = sparse.values.numpy()
            counts = np.bincount(sparse.indices.numpy()[:, 0], minlength=n)
            offsets = np.zeros(n + 1, np.int64)
            np.cumsum(counts, out=offsets[1:])
            if values.dtype == object:
                values = pa.array(values, pa.large_binary())
            arrays.append(pa.LargeListArray.from_arrays(pa.array(offsets), values))
        return pa.RecordBatch.from_arrays(arrays, self.names)


class DecodeShards(beam.DoFn):
    """A TFRecord file path → record batches of at most ``batch`` rows."""

    def __init__(self, serialized_schema: bytes, batch: int = BATCH) -> None:
        self._schema, self._batch = serialized_schema, batch

    def setup(self) -> None:
        from tensorflow_metadata.proto.v0 import schema_pb2
        from tensorflow_transform.tf_metadata import schema_utils

        spec = schema_utils.schema_as_feature_spec(
            schema_pb2.Schema.FromString(self._schema)
        ).feature_spec
        self._decoder = ParsingDecoder(spec)

    def process(self, path: str) -> Iterator[pa.RecordBatch]:
        from tfpipe.components.core.tfrecord import read_records

        chunk: list[bytes] = []
        for record in read_records(path):
            chunk.append(record)
            if len(chunk) == self._batch:
                yield self._decoder.decode(chunk)
                chunk = []
        if chunk:
            yield self._decoder.decode(chunk)


class WriteShards(beam.DoFn):
    """Transformed record batches → tf.Example TFRecord shards in ``directory``, one per bundle,
    under a temporary name; the shard's name, record count and size are the bundle's output, so
    only shards of bundles the runner commits reach :func:`finalize_shards` (a retried bundle's
    first attempt never becomes visible)."""

    def __init__(self, directory: str) -> None:
        self._dir = directory

    def start_bundle(self) -> None:
        self._writer: Any = None
        self._path = ""

    def process(self, element: Any) -> Iterator[Any]:
        from tfpipe.components.artifacts.shards import temp_shard_path
        from tfpipe.components.core.tfrecord import TFRecordWriter, encode_examples

        batch = element[0] if isinstance(element, tuple) else element
        if self._writer is None:
            self._path = temp_shard_path(self._dir)
            self._writer = TFRecordWriter(self._path)
        self._writer.write_many(encode_examples(batch))
        return iter(())

    def finish_bundle(self) -> Iterator[Any]:
        from apache_beam.transforms.window import GlobalWindows

        from tfpipe.components.artifacts.shards import written_shard

        if self._writer is not None:
            self._writer.close()
            yield GlobalWindows.windowed_value(written_shard(self._path, self._writer.count))
            self._writer = None


def finalize_shards(written: list[dict[str, Any]], directory: str) -> int:
    """Commit the shards of the committed bundles (see ``artifacts/shards.py``)."""
    from tfpipe.components.artifacts.shards import commit_shards

    return commit_shards(directory, written)


class WriteSplit(beam.PTransform):
    """Write a transformed split: shards per bundle, then one finalize that commits them."""

    def __init__(self, directory: str) -> None:
        super().__init__()
        self._dir = directory

    def expand(self, batches: beam.PCollection) -> beam.PCollection:
        return (
            batches
            | "Shards" >> beam.ParDo(WriteShards(self._dir))
            | "Committed" >> beam.combiners.ToList()
            | "Finalize" >> beam.Map(finalize_shards, self._dir)
        )


class WriteCacheEntry(beam.PTransform):
    """One analyzer-cache entry (encoded accumulators) → one small file per element, named by its
    content (``<prefix>-<digest>-of-1``, which tf.Transform's ``<prefix>-*-of-*`` glob reads), so
    a retried bundle rewrites the same file instead of adding a duplicate. Beam's file sink plans
    several stages per write and a window's analysis has one write per analyzer per drop; an
    entry holds one merged accumulator (or a vocabulary's distinct tokens), so this is one
    stage."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self._prefix = prefix

    def expand(self, entries: beam.PCollection) -> beam.PCollection:
        return entries | "Write" >> beam.Map(_write_entry, self._prefix)


def _write_entry(record: bytes, prefix: str) -> str:
    import hashlib
    import os

    from tfpipe.components.core.tfrecord import TFRecordWriter

    path = f"{prefix}-{hashlib.sha256(record).hexdigest()[:24]}-of-1"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    writer = TFRecordWriter(path + ".tmp")
    writer.write_many([record])
    writer.close()
    os.replace(path + ".tmp", path)
    return path


class ReadCacheEntry(beam.PTransform):
    """The entry :class:`WriteCacheEntry` wrote, from tf.Transform's ``<prefix>-*-of-*`` glob."""

    def __init__(self, pattern: str) -> None:
        super().__init__()
        self._pattern = pattern

    def expand(self, pipeline: beam.Pipeline) -> beam.PCollection:
        import glob

        from tfpipe.components.core.tfrecord import read_records

        files = sorted(glob.glob(self._pattern))
        return pipeline | "Files" >> beam.Create(files) | "Records" >> beam.FlatMap(read_records)
