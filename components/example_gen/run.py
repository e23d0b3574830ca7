"""ExampleGen entry point: typed Arrow record batches → hash-split, sharded tf.Example TFRecords,
the schema they were encoded with, per-split statistics and an inferred contract.

One streaming pass (restarted only if a column must be widened), no TensorFlow for CSV and
Parquet: pyarrow parses, numpy hashes, tfx-bsl encodes, a Python framer writes.
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from tfpipe.components.artifacts import Examples
from tfpipe.components.core.contract import Contract, infer_contract, load_contract, to_text
from tfpipe.components.core.errors import InputDataError
from tfpipe.components.core.schema import ColumnSchema, Schema
from tfpipe.components.core.spec import Context
from tfpipe.components.core.tfrecord import TFRecordWriter, encode_examples
from tfpipe.components.example_gen.inputs import check_unchanged, local_copies
from tfpipe.components.example_gen.params import ExampleGenParams
from tfpipe.components.example_gen.readers import Rejected, Widen, open_source
from tfpipe.components.example_gen.split import HashSplitter, row_hash, shard_of
from tfpipe.components.example_gen.stats import ColumnStats, SplitStats, arrow_kind

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


def run(ctx: Context) -> dict[str, Any]:
    files = list(ctx.external["input_files"])
    stamps = ctx.external.get("input_stamps") or {}
    roots = ctx.params.data_roots
    check_unchanged(files, stamps, roots)  # what is read is what was fingerprinted ...
    with local_copies(files, ctx.external.get("input_objects") or {}, ctx.progress) as local:
        summary = convert(ctx, local)
    check_unchanged(files, stamps, roots)  # ... and nothing was written while it was read
    return summary


def convert(ctx: Context, files: list[str]) -> dict[str, Any]:
    """Everything from local files: encode, split, write shards, statistics, contract."""
    p: ExampleGenParams = ctx.params
    out: Examples = ctx.output
    contract = load_contract(p.schema_file) if p.schema_file else Contract()
    source = open_source(files, p.format, p.na_values, p.on_malformed)
    if p.split_column and p.split_column not in source.columns:
        raise InputDataError(
            f"example_gen: split_column '{p.split_column}' is not a column of {files[0]} "
            f"(columns: {source.columns})"
        )
    for name in p.hash_columns or []:
        if name not in source.columns:
            raise InputDataError(
                f"example_gen: hash column '{name}' is not a column of {files[0]} "
                f"(columns: {source.columns})"
            )
    types = source.initial_types(contract.types)
    start = time.perf_counter()
    first_unfit: dict[str, str] = {}
    while True:
        try:
            if p.beam_args:  # Beam is imported only for this
                from tfpipe.components.example_gen.beam_pass import beam_pass

                result = beam_pass(ctx.progress, p, out, files, types, contract)
            else:
                result = one_pass(ctx.progress, p, out, source, types, contract, files)
            break
        except Widen as wider:
            ctx.progress(f"widening {wider}; restarting the pass")
            out.reset_splits()
            types = wider.types
            if wider.column and wider.first_unfit:
                first_unfit.setdefault(wider.column, wider.first_unfit)
    splits, stats, rejected, final_types = result
    rows = sum(splits.values())
    if rows == 0:
        raise InputDataError(
            f"example_gen: input '{p.input}' has a header but no data rows"
            + (f" ({len(rejected.rows)} malformed rows set aside)" if rejected.rows else "")
        )
    if rejected.rows and len(rejected.rows) > p.max_rejected_fraction * (rows + len(rejected.rows)):
        first = rejected.rows[0]
        raise InputDataError(
            f"example_gen: {len(rejected.rows)} of {rows + len(rejected.rows)} rows are malformed "
            f"(more than max_rejected_fraction={p.max_rejected_fraction}); the first: "
            f"'{first[0]}' line {first[1]}: {first[2]}. Fix the export or raise "
            "example_gen.max_rejected_fraction"
        )
    encoded = {
        n: arrow_kind(t) if not pa.types.is_null(t) else "string" for n, t in final_types.items()
    }
    overall: dict[str, ColumnStats] = {}
    for split_stats in stats.values():
        for name, column in split_stats.columns.items():
            if name not in overall:
                overall[name] = ColumnStats(name, contract.columns.get(name))
            overall[name].merge(column)
    overall_json = {n: s.to_json(encoded[n]) for n, s in overall.items()}
    for name, where in first_unfit.items():
        overall_json[name]["first_unfit"] = where
    out.write_schema(_schema(overall_json, rows, p.max_domain_size))
    out.write_statistics(
        {
            "num_rows": rows,
            "columns": overall_json,
            "splits": {s: stats[s].to_json(encoded) for s in splits},
        }
    )
    out.write_inferred_contract(to_text(infer_contract(overall_json, p.max_domain_size)))
    if p.schema_file:
        with open(p.schema_file, encoding="utf-8") as f:
            out.write_contract(f.read())
    if rejected.rows:
        with open(out.rejected_path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["file", "line", "reason", "text"])
            writer.writerows(rejected.rows)
    seconds = time.perf_counter() - start
    ctx.log.info("example_gen: %s rows → %s in %.1fs", rows, splits, seconds)
    return {
        "rows": rows,
        "splits": splits,
        "columns": len(encoded),
        "files": len(files),
        "rejected_rows": len(rejected.rows),
        "rows_per_second": round(rows / seconds) if seconds else None,
    }


PassResult = tuple[dict[str, int], dict[str, SplitStats], Rejected, dict[str, pa.DataType]]


def one_pass(
    progress: Callable[[str], None],
    p: ExampleGenParams,
    out: Examples,
    source: Any,
    types: dict[str, pa.DataType],
    contract: Contract,
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


def _schema(columns: dict[str, dict[str, Any]], rows: int, max_domain: int) -> Schema:
    out = []
    for name, s in columns.items():
        values = s.get("values")
        domain = (
            sorted(values)
            if s["type"] == "string" and values is not None and len(values) <= max_domain
            else None
        )
        out.append(
            ColumnSchema(
                name, s["type"], s["count"], s["missing"], s.get("min"), s.get("max"), domain
            )
        )
    return Schema(out, rows)
