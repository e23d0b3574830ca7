"""ExampleGen entry point: typed Arrow record batches → hash-split, sharded tf.Example TFRecords,
the schema they were encoded with, per-split statistics and an inferred contract.

One streaming pass (restarted only if a column must be widened), no TensorFlow for CSV and
Parquet: pyarrow parses, numpy hashes, tfx-bsl encodes, a Python framer writes.
"""

from __future__ import annotations

import csv
import time
from typing import Any

import pyarrow as pa

from tfpipe.components.artifacts import Examples
from tfpipe.components.core.contract import infer_contract, load_contract, to_text
from tfpipe.components.core.errors import InputDataError
from tfpipe.components.core.schema import ColumnSchema, Schema
from tfpipe.components.core.spec import Context
from tfpipe.components.example_gen.inputs import check_unchanged, local_copies
from tfpipe.components.example_gen.params import ExampleGenParams
from tfpipe.components.example_gen.readers import Widen, open_source
from tfpipe.components.example_gen.stats import ColumnStats, arrow_kind
from tfpipe.components.example_gen.streaming_pass import one_pass


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
    contract = load_contract(p.schema_file) if p.schema_file else Schema()
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
        "column_names": list(encoded),
        "files": len(files),
        "rejected_rows": len(rejected.rows),
        "rows_per_second": round(rows / seconds) if seconds else None,
    }


def _schema(columns: dict[str, dict[str, Any]], rows: int, max_domain: int) -> Schema:
    """The schema the data was encoded with: types, observed presence, values and range."""
    out = []
    for name, s in columns.items():
        values = s.get("values")
        domain = (
            tuple(sorted(values))
            if s["type"] == "string" and values is not None and len(values) <= max_domain
            else None
        )
        total = s["count"] + s["missing"]
        presence = s["count"] / total if total else 0.0
        out.append(ColumnSchema(name, s["type"], presence, domain, s.get("min"), s.get("max")))
    return Schema.of(out, rows)
