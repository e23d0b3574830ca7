"""TFRecord files without TensorFlow: the record framing (length, masked CRC-32C of the length,
data, masked CRC-32C of the data) written in Python with ``google_crc32c``'s C implementation,
and Arrow record batches of scalar columns encoded to tf.Example bytes by tfx-bsl's C++ encoder.

Importing TensorFlow costs seconds and hundreds of MB; ExampleGen needs neither.
"""

from __future__ import annotations

import gzip
import itertools
import struct
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from tfpipe.components.core.errors import InputDataError

_U32 = struct.Struct("<I").pack
_U64 = struct.Struct("<Q").pack
_FRAME = struct.Struct("<QI")  # length, masked CRC of the length
_U32_AT = struct.Struct("<I").unpack_from
READ_BLOCK = 4 << 20


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


class CorruptRecord(InputDataError):
    """A TFRecord file whose framing or checksums do not hold (a truncated or damaged shard)."""


def read_records(path: str) -> Iterator[bytes]:
    """The records of an uncompressed TFRecord file (``.gz``: GZIP), each checked: a length whose
    CRC does not match, data whose CRC does not match or a file that ends inside a record is an
    error naming the file, the record's index and its byte offset."""
    import google_crc32c

    crc, u32_at = google_crc32c.value, _U32_AT
    lengths: dict[bytes, int] = {}  # headers already checked → their length
    f: Any = gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")
    with f:
        index, offset, block, pos = 0, 0, b"", 0
        while True:
            if len(block) - pos < 12:  # refill: the rest of the block plus the next 4 MB
                block, pos = block[pos:] + f.read(READ_BLOCK), 0
                if not block:
                    return
                if len(block) < 12:
                    raise _corrupt(path, index, offset, "the file ends inside a record header")
            header = block[pos : pos + 12]
            length = lengths.get(header)
            if length is None:
                length, length_crc = _FRAME.unpack(header)
                if _masked_crc(crc(header[:8])) != length_crc:
                    raise _corrupt(path, index, offset, "the length's checksum does not match")
                lengths[header] = length
            end = pos + 16 + length
            if end > len(block):
                block, pos = block[pos:] + f.read(max(READ_BLOCK, end - pos)), 0
                end = 16 + length
                if end > len(block):
                    raise _corrupt(
                        path, index, offset, f"the file ends inside a record of {length} bytes"
                    )
            data = block[pos + 12 : end - 4]
            c = crc(data)
            if (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF != u32_at(block, end - 4)[0]:
                raise _corrupt(path, index, offset, "the data's checksum does not match")
            yield data
            index, offset, pos = index + 1, offset + 16 + length, end


def _corrupt(path: str, index: int, offset: int, what: str) -> CorruptRecord:
    return CorruptRecord(
        f"{path}: record {index} (byte {offset}): {what}; the file is truncated or damaged "
        "(re-create it, or re-run the step that wrote it)"
    )


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
