"""Converting files into one Examples artifact: encode (the widening loop around one streaming or
Beam pass), then describe (schema, statistics, inferred contract, rows set aside, summary)."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from tfpipe.components.artifacts import Examples
from tfpipe.components.core.contract import infer_contract, load_contract, to_text
from tfpipe.components.core.errors import InputDataError
from tfpipe.components.core.schema import ColumnSchema, Schema
from tfpipe.components.core.spec import Context
from tfpipe.components.example_gen.params import ExampleGenParams
from tfpipe.components.example_gen.readers import Rejected, Widen, open_source
from tfpipe.components.example_gen.stats import ColumnStats, SplitStats, arrow_kind

Encoded = tuple[dict[str, int], dict[str, SplitStats], Rejected, dict[str, pa.DataType]]


def encode(
    p: ExampleGenParams,
    out: Examples,
    files: list[str],
    contract: Schema,
    progress: Callable[[str], None],
    types: dict[str, pa.DataType] | None = None,
    first_unfit: dict[str, str] | None = None,
) -> Encoded:
    """Write the splits of ``files`` into ``out``: (rows per split, statistics, rejected rows,
    final types). ``types``: columns to encode as at least these types (a window's common
    types); a value that does not fit widens its column and restarts the pass."""
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
    current = source.initial_types(contract.types)
    for name, wanted in (types or {}).items():  # contracted columns too: the window widened
        if name in current and not pa.types.is_null(wanted):
            current[name] = wanted
    first_unfit = first_unfit if first_unfit is not None else {}
    while True:
        try:
            if p.beam_args:  # Beam is imported only for this
                from tfpipe.components.example_gen.beam_pass import beam_pass

                return beam_pass(progress, p, out, files, current, contract)
            from tfpipe.components.example_gen.streaming_pass import one_pass

            return one_pass(progress, p, out, source, current, contract, files)
        except Widen as wider:
            progress(f"widening {wider}; restarting the pass")
            out.reset_splits()
            current = wider.types
            if wider.column and wider.first_unfit:
                first_unfit.setdefault(wider.column, wider.first_unfit)


def convert(ctx: Context, files: list[str]) -> dict[str, Any]:
    """Every file into one artifact (the Beam path): encode, then describe."""
    p: ExampleGenParams = ctx.params
    contract = load_contract(p.schema_file) if p.schema_file else Schema()
    start = time.perf_counter()
    first_unfit: dict[str, str] = {}
    splits, stats, rejected, final_types = encode(
        p, ctx.output, files, contract, ctx.progress, first_unfit=first_unfit
    )
    return describe(ctx, splits, stats, rejected.rows, final_types, first_unfit, files, start)


def describe(
    ctx: Context,
    splits: dict[str, int],
    stats: dict[str, SplitStats],
    rejected: list[Any],
    final_types: dict[str, pa.DataType],
    first_unfit: dict[str, str],
    files: list[str],
    start: float,
) -> dict[str, Any]:
    """Checks on the whole input, then what the artifact says about it: schema, statistics,
    inferred contract, the contract itself, the rows set aside; returns the summary."""
    p: ExampleGenParams = ctx.params
    out: Examples = ctx.output
    contract = load_contract(p.schema_file) if p.schema_file else Schema()
    rows = sum(splits.values())
    if rows == 0:
        raise InputDataError(
            f"example_gen: input '{p.input}' has a header but no data rows"
            + (f" ({len(rejected)} malformed rows set aside)" if rejected else "")
        )
    if rejected and len(rejected) > p.max_rejected_fraction * (rows + len(rejected)):
        first = rejected[0]
        raise InputDataError(
            f"example_gen: {len(rejected)} of {rows + len(rejected)} rows are malformed "
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
        if name in overall_json:
            overall_json[name]["first_unfit"] = where
    out.write_schema(_schema(overall_json, rows, p.max_domain_size))
    out.write_statistics(
        {
            "num_rows": rows,
            "columns": overall_json,
            "splits": {s: stats[s].to_json(encoded) for s in splits if s in stats},
        }
    )
    out.write_inferred_contract(to_text(infer_contract(overall_json, p.max_domain_size)))
    if p.schema_file:
        with open(p.schema_file, encoding="utf-8") as f:
            out.write_contract(f.read())
    if rejected:
        write_rejected(out, rejected)
    seconds = time.perf_counter() - start
    ctx.log.info("example_gen: %s rows → %s in %.1fs", rows, splits, seconds)
    return {
        "rows": rows,
        "splits": splits,
        "columns": len(encoded),
        "column_names": list(encoded),
        "files": len(files),
        "rejected_rows": len(rejected),
        "rows_per_second": round(rows / seconds) if seconds else None,
    }


def write_rejected(out: Examples, rows: list[Any]) -> None:
    with open(out.rejected_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "line", "reason", "text"])
        writer.writerows(rows)


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
