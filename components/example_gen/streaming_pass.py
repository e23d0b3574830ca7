"""ExampleGen's streaming pass: read record batches once, split them by hash, write the shards of
every split and gather statistics (the in-process path, and each Beam worker's share of files)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from tfpipe.components.artifacts import Examples
from tfpipe.components.core.schema import Schema
from tfpipe.components.core.tfrecord import TFRecordWriter, encode_examples
from tfpipe.components.example_gen.params import ExampleGenParams
from tfpipe.components.example_gen.readers import Rejected
from tfpipe.components.example_gen.split import HashSplitter, row_hash, shard_of
from tfpipe.components.example_gen.stats import SplitStats

PROGRESS_EVERY = 500_000
SHARD_BYTES = 64 << 20  # about one shard per 64 MB of input


def shard_counts(p: ExampleGenParams, files: list[str], splits: list[str]) -> dict[str, int]:
    if p.shards:
        return {s: p.shards for s in splits}
    total = max(1, math.ceil(sum(os.path.getsize(f) for f in files) / SHARD_BYTES))
    ratios = p.split_ratios if not p.split_column else dict.fromkeys(splits, 1.0)
    norm = sum(ratios.get(s, 1.0) for s in splits)
    return {s: max(1, min(64, round(total * ratios.get(s, 1.0) / norm))) for s in splits}


class SplitWriter:
    """The shards of every split; splits named by a column are opened as they appear."""

    def __init__(
        self,
        out: Examples,
        shards: dict[str, int],
        default_shards: int,
        file_index: int = 0,
        file_count: int = 1,
    ) -> None:
        """``file_index``/``file_count``: this writer holds one input file's share of the shards
        (Beam: one file per worker), named so that every file's shards sit side by side."""
        self.out, self.shards, self.default = out, shards, default_shards
        self.file_index, self.file_count = file_index, file_count
        self.writers: dict[tuple[str, int], TFRecordWriter] = {}
        self.counts: dict[str, int] = {}

    def write(self, split: str, batch: pa.RecordBatch, hashes: np.ndarray) -> None:
        count = self.shards.setdefault(split, self.default)
        shard = shard_of(hashes, count)
        for k in range(count):
            rows = np.flatnonzero(shard == k)
            if not len(rows):
                continue
            key = (split, k)
            if key not in self.writers:
                index, total = self.file_index * count + k, self.file_count * count
                self.writers[key] = TFRecordWriter(self.out.shard_path(split, index, total))
            self.writers[key].write_many(encode_examples(batch.take(pa.array(rows))))
        self.counts[split] = self.counts.get(split, 0) + batch.num_rows

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


PassResult = tuple[dict[str, int], dict[str, SplitStats], Rejected, dict[str, pa.DataType]]


def one_pass(
    progress: Callable[[str], None],
    p: ExampleGenParams,
    out: Examples,
    source: Any,
    types: dict[str, pa.DataType],
    contract: Schema,
    files: list[str],
    file_index: int = 0,
    file_count: int = 1,
) -> PassResult:
    """Read ``source`` once: split, write shards, gather statistics. Raises Widen."""
    splitter = HashSplitter(p.split_ratios)
    planned = [] if p.split_column else list(p.split_ratios)
    if file_count == 1:
        shards = shard_counts(p, files, planned or ["all"])
    else:  # one of several files converted apart: its own shards (p.shards, else one)
        shards = dict.fromkeys(planned or ["all"], p.shards or 1)
    writer = SplitWriter(
        out, dict(shards) if planned else {}, max(shards.values()), file_index, file_count
    )
    rejected = Rejected()
    stats: dict[str, SplitStats] = {}
    seen, final_types, next_report = 0, dict(types), PROGRESS_EVERY
    try:
        for batch in source.batches(types, rejected):
            final_types.update({f.name: f.type for f in batch.schema})
            if p.split_column:
                labels = batch.column(p.split_column).cast(pa.string()).fill_null("(missing)")
                batch = batch.drop_columns([p.split_column])
                hashes = row_hash(batch, p.hash_columns)
                names = np.asarray(labels.to_pylist(), dtype=object)
                groups = {str(s): np.flatnonzero(names == s) for s in np.unique(names)}
            else:
                hashes = row_hash(batch, p.hash_columns)
                which = splitter(hashes)
                groups = {s: np.flatnonzero(which == i) for i, s in enumerate(splitter.names)}
            for split, rows in groups.items():
                if not len(rows):
                    continue
                part, part_hashes = batch.take(pa.array(rows)), hashes[rows]
                if split not in stats:
                    stats[split] = SplitStats(batch.schema.names, contract.columns)
                stats[split].add(part, part_hashes)
                writer.write(split, part, part_hashes)
            seen += batch.num_rows
            if seen >= next_report:
                progress(f"{seen:,} rows written")
                next_report += PROGRESS_EVERY
    finally:
        writer.close()
    if p.split_column:  # (a column may be named "")
        final_types.pop(p.split_column, None)
    return writer.counts, stats, rejected, final_types
