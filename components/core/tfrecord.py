"""TFRecord files without TensorFlow: the record framing (length, masked CRC-32C of the length,
data, masked CRC-32C of the data) written in Python with ``google_crc32c``'s C implementation,
and Arrow record batches of scalar columns encoded to tf.Example bytes by tfx-bsl's C++ encoder.

Importing TensorFlow costs seconds and hundreds of MB; ExampleGen needs neither.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

_U32 = struct.Struct("<I").pack
_U64 = struct.Struct("<Q").pack


def _masked_crc(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class TFRecordWriter:
    """Appends records to one TFRecord file (uncompressed), readable by tf.data and Beam."""

    def __init__(self, path: str) -> None:
        import google_crc32c

        self._crc = google_crc32c.value
        self._file = open(path, "wb", buffering=1 << 20)
        self._headers: dict[int, bytes] = {}
        self.count = 0

    def write_many(self, records: Iterable[bytes]) -> None:
        crc, headers, parts = self._crc, self._headers, []
        for record in records:
            n = len(record)
            header = headers.get(n)
            if header is None:
                length = _U64(n)
                header = headers[n] = length + _U32(_masked_crc(crc(length)))
            parts += (header, record, _U32(_masked_crc(crc(record))))
            self.count += 1
        self._file.write(b"".join(parts))

    def close(self) -> None:
        self._file.close()


def read_records(path: str) -> Iterable[bytes]:
    """The records of a TFRecord file, GZIP-compressed when named ``.gz`` (framing only; CRCs
    not checked)."""
    import gzip

    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        while header := f.read(12):
            (length,) = struct.unpack("<Q", header[:8])
            yield f.read(length)
            f.read(4)


_ENCODER: Any = None


def encode_examples(batch: pa.RecordBatch, empty_for_missing: bool = False) -> list[bytes]:
    """One serialized tf.Example per row. Scalar columns (raw data): a missing value is an absent
    feature, as tf.Example intends (tfx-bsl's encoder would write an empty one, which
    ``FixedLenFeature`` parsing rejects). List columns (tf.Transform output): tfx-bsl's encoder.
    ``empty_for_missing``: tfx-bsl's encoder for scalar columns too (~1.6x faster), for a reader
    that parses every feature as optional (``serving_default``: an empty feature is missing)."""
    scalar = all(
        not (pa.types.is_list(c.type) or pa.types.is_large_list(c.type)) for c in batch.columns
    )
    if scalar and not empty_for_missing:
        from tfpipe.components.core.example_codec import serialize_batch

        buffer, offsets = serialize_batch(batch)
        data = buffer.tobytes()
        bounds = offsets.tolist()
        return [data[a:b] for a, b in itertools.pairwise(bounds)]
    global _ENCODER
    if _ENCODER is None:
        from tfx_bsl.coders import example_coder

        _ENCODER = example_coder.RecordBatchToExamplesEncoder()
    return list(_ENCODER.encode(_as_feature_lists(batch)))


def _as_feature_lists(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Scalar columns → the list<int64 | float32 | binary> columns tf.Example features are
    (list columns, e.g. tf.Transform's output, pass as they are)."""
    offsets = pa.array(np.arange(batch.num_rows + 1, dtype=np.int32))
    arrays, names = [], []
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
            arrays.append(col)
            names.append(name)
            continue
        if pa.types.is_null(col.type):
            continue  # never a value: no feature at all
        if pa.types.is_floating(col.type):
            col = col.cast(pa.float32())
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = col.cast(pa.binary())
        mask = col.is_null() if col.null_count else None
        arrays.append(pa.ListArray.from_arrays(offsets, col, mask=mask))
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names=names)
