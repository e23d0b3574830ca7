"""Checking scored files the way their reader would: pyarrow reads the Parquet / CSV (or the test
decodes the TFRecords), and the predictions are compared with ``serving_default`` called directly
on the same rows, built as raw tf.Examples by the test."""

from __future__ import annotations

import glob
import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tfpipe.components.artifacts import InferenceResult, open_artifact, saved_model_info
from tfpipe.components.example_gen.params import DEFAULT_NA

TOLERANCE = 1e-6


def read_rows(csv_path: str, text_columns: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The CSV's rows as ExampleGen reads them: its missing-value markers are missing."""
    table = pacsv.read_csv(
        csv_path,
        convert_options=pacsv.ConvertOptions(
            null_values=list(DEFAULT_NA),
            strings_can_be_null=True,
            column_types={c: pa.string() for c in text_columns},
        ),
    )
    return table.to_pylist()


def served_outputs(model_dir: str, rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """``serving_default`` on raw tf.Examples of ``rows``, each value encoded with the type the
    model records for it (what any client does), in one call."""
    import tensorflow as tf
    from serving import raw_example

    kinds = saved_model_info(model_dir)["raw_features"]
    cast = {"int": int, "float": float, "string": str}
    examples = [
        raw_example({k: cast[kinds[k]](v) for k, v in row.items() if k in kinds and v is not None})
        for row in rows
    ]
    serve = tf.saved_model.load(model_dir).signatures["serving_default"]
    return {k: v.numpy() for k, v in serve(examples=tf.constant(examples)).items()}


def read_output(directory: str, fmt: str, text_columns: tuple[str, ...] = ()) -> pa.Table:
    """Every shard of a scoring's output, in row order, read by pyarrow (TFRecords decoded)."""
    files = sorted(glob.glob(os.path.join(directory, "predictions", "part-*")))
    assert files, f"no output files in {directory}"
    if fmt == "parquet":
        return pa.concat_tables(pq.read_table(f) for f in files)
    if fmt == "csv":
        # A missing value is an empty field in CSV: read back as a null.
        options = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in text_columns}, strings_can_be_null=True
        )
        return pa.concat_tables(pacsv.read_csv(f, convert_options=options) for f in files)
    import tensorflow as tf

    from tfpipe.components.core.tfrecord import read_records

    rows = []
    for f in files:
        for record in read_records(f):
            example = tf.train.Example.FromString(record)
            row = {}
            for name, feature in example.features.feature.items():
                values = list(getattr(feature, feature.WhichOneof("kind")).value)
                value = values[0] if values else None
                row[name] = value.decode() if isinstance(value, bytes) else value
            rows.append(row)
    # A tf.Example's features are a map: the column order is the one the scoring recorded.
    columns = open_artifact(directory, InferenceResult).info()["columns"]
    return pa.Table.from_pylist(rows).select(columns)


def assert_predictions_match(table: pa.Table, expected: dict[str, np.ndarray]) -> None:
    """Predictions in ``table`` equal ``serving_default``'s outputs row for row (1e-6)."""
    assert table.num_rows == len(next(iter(expected.values())))
    if "predictions" in expected:
        got = table.column("prediction").to_numpy().astype(float)
        assert np.abs(got - expected["predictions"].reshape(-1)).max() <= TOLERANCE
        return
    probabilities = expected["probabilities"]
    columns = [c for c in table.column_names if c.startswith("probability_")]
    assert len(columns) == probabilities.shape[1], columns
    got = np.stack([table.column(c).to_numpy().astype(float) for c in columns], axis=1)
    assert np.abs(got - probabilities).max() <= TOLERANCE
    assert table.column("class_id").to_pylist() == expected["class_ids"].tolist()
    assert table.column("class").to_pylist() == [c.decode() for c in expected["classes"]]


def assert_passthrough(table: pa.Table, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """The passthrough columns come first, identical to the input row for row."""
    assert table.column_names[: len(columns)] == columns
    for column in columns:
        assert table.column(column).to_pylist() == [row[column] for row in rows], column
