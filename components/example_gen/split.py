"""Deterministic hash splitting of Arrow record batches (vectorised; same row → same split on
every run and runtime). Numbers hash by their float64 value (a column widened from int to float
keeps its rows' splits), strings by BLAKE2b of their UTF-8 bytes (once per distinct value in a
batch), missing values by a constant; columns are mixed with splitmix64."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HASH_BUCKETS = 10_000
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S27, _S30, _S31, _S32 = (np.uint64(s) for s in (27, 30, 31, 32))
_NULL = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place (wraps mod 2**64)."""
    with np.errstate(over="ignore"):
        x ^= x >> _S30
        x *= _M1
        x ^= x >> _S27
        x *= _M2
        x ^= x >> _S31
    return x


def _blake64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def column_hash(col: pa.Array) -> np.ndarray:
    n = len(col)
    if pa.types.is_null(col.type):
        return np.full(n, _NULL, dtype=np.uint64)
    if pa.types.is_string(col.type) or pa.types.is_binary(col.type):
        encoded = pc.dictionary_encode(col)
        values = encoded.dictionary.cast(pa.binary()).to_pylist()
        unique = np.fromiter((_blake64(v) for v in values), dtype=np.uint64, count=len(values))
        index = encoded.indices.fill_null(0).to_numpy()
        out = unique[index] if len(unique) else np.zeros(n, np.uint64)
    else:
        floats = col.cast(pa.float64(), safe=False).fill_null(0.0).to_numpy() + 0.0  # -0.0 → 0.0
        out = _mix(floats.view(np.uint64).copy())
    if col.null_count:
        out[np.asarray(col.is_null())] = _NULL
    return out


def row_hash(batch: pa.RecordBatch, columns: list[str] | None = None) -> np.ndarray:
    """One uint64 per row from the values of ``columns`` (default: all, in file order)."""
    names = columns or batch.schema.names
    h = np.zeros(batch.num_rows, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i, name in enumerate(names):
            h ^= column_hash(batch.column(name)) + np.uint64(
                ((i + 1) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
            )
            h = _mix(h)
    return h


class HashSplitter:
    """Assigns rows to splits by hash, in proportion to the ratios."""

    def __init__(self, ratios: dict[str, float]) -> None:
        total = sum(ratios.values())
        self.names = list(ratios)
        self.bounds, acc = [], 0.0
        for ratio in ratios.values():
            acc += ratio / total
            self.bounds.append(round(acc * HASH_BUCKETS))

    def __call__(self, hashes: np.ndarray) -> np.ndarray:
        """The index (into ``names``) of each row's split."""
        bucket = (hashes % np.uint64(HASH_BUCKETS)).astype(np.int64)
        return np.minimum(np.searchsorted(self.bounds, bucket, side="right"), len(self.names) - 1)


def shard_of(hashes: np.ndarray, shards: int) -> np.ndarray:
    """Which shard of its split a row goes to (independent bits of the same hash)."""
    return ((hashes >> _S32) % np.uint64(shards)).astype(np.int64)
