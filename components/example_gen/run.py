"""ExampleGen entry point: two streaming passes (infer schema, then write splits)."""

from __future__ import annotations

import bisect
import csv
import json
import zlib
from typing import Any

from components.artifacts import Examples
from components.core.errors import InputDataError
from components.core.schema import Schema, SchemaBuilder, check_against
from components.core.spec import Context
from components.example_gen.params import ExampleGenParams
from components.example_gen.readers import open_reader

HASH_BUCKETS = 10_000
PROGRESS_EVERY = 200_000


class HashSplitter:
    """Assigns a row to a split by a stable hash of its values (same row → same split, always)."""

    def __init__(self, ratios: dict[str, float], hash_columns: list[str]) -> None:
        total = sum(ratios.values())
        self.names = list(ratios)
        self.bounds, acc = [], 0.0
        for ratio in ratios.values():
            acc += ratio / total
            self.bounds.append(round(acc * HASH_BUCKETS))
        self.columns = hash_columns

    def __call__(self, row: dict[str, Any]) -> str:
        key = "\x1f".join("" if row.get(c) is None else str(row[c]) for c in self.columns)
        bucket = zlib.crc32(key.encode()) % HASH_BUCKETS
        return self.names[min(bisect.bisect_right(self.bounds, bucket), len(self.names) - 1)]


def encode_example(row: dict[str, Any], schema: Schema):
    import tensorflow as tf

    features = {}
    for col in schema.columns:
        value = row.get(col.name)
        if value is None:
            continue  # missing values are absent features, as tf.Example intends
        if col.type == "int":
            features[col.name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
        elif col.type == "float":
            features[col.name] = tf.train.Feature(
                float_list=tf.train.FloatList(value=[float(value)])
            )
        else:
            data = value if isinstance(value, bytes) else str(value).encode()
            features[col.name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[data]))
    return tf.train.Example(features=tf.train.Features(feature=features))


def run(ctx: Context) -> dict[str, Any]:
    import tensorflow as tf

    p: ExampleGenParams = ctx.params
    out: Examples = ctx.output
    files = list(ctx.external["input_files"])
    reader = open_reader(files, p.format, p.na_values, p.on_malformed)
    feature_names = [c for c in reader.columns if c != p.split_column]
    if p.split_column and p.split_column not in reader.columns:
        raise InputDataError(
            f"example_gen: split_column '{p.split_column}' is not a column of {files[0]} "
            f"(columns: {reader.columns})"
        )
    for name in p.hash_columns or []:
        if name not in reader.columns:
            raise InputDataError(f"example_gen: hash column '{name}' is not a column of {files[0]}")

    ctx.progress(f"pass 1/2: inferring the schema of {len(files)} file(s)")
    builder = SchemaBuilder(feature_names, p.max_domain_size)
    for row in reader.rows():
        builder.add(row)
    schema = builder.build()
    if schema.num_rows == 0:
        raise InputDataError(f"example_gen: input '{p.input}' has a header but no data rows")
    if p.schema_file:
        check_against(schema, Schema.load(p.schema_file), f"input '{p.input}'", p.schema_file)

    ctx.progress(f"pass 2/2: writing {schema.num_rows} rows as tf.Examples")
    splitter = HashSplitter(p.split_ratios, p.hash_columns or reader.columns)
    writers: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for i, row in enumerate(reader.rows(collect_rejected=True), 1):
        split = str(row.pop(p.split_column)) if p.split_column else splitter(row)
        if split not in writers:
            writers[split] = tf.io.TFRecordWriter(out.shard_path(split, 0, 1))
            counts[split] = 0
        writers[split].write(encode_example(row, schema).SerializeToString())
        counts[split] += 1
        if i % PROGRESS_EVERY == 0:
            ctx.progress(f"wrote {i}/{schema.num_rows} rows")
    for writer in writers.values():
        writer.close()

    out.write_schema(schema)
    rejected = getattr(reader, "rejected", [])
    if rejected:
        with open(out.rejected_path, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["file", "line", "fields"])
            for name, line, fields in rejected:
                out.writerow([name, line, json.dumps(fields)])
    ctx.log.info("example_gen: %s rows → %s", schema.num_rows, counts)
    return {
        "rows": schema.num_rows,
        "splits": counts,
        "columns": len(schema.columns),
        "files": len(files),
        "rejected_rows": len(rejected),
    }
