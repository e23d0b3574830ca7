"""The columns of a scoring: what the data has (read at planning, without TensorFlow), what the
output adds (the predictions of the serving contract), and the checks between the two.

Output columns, after the passthrough ones: a classifier's ``class_id`` (int64), ``class`` (the
class name) and one ``probability_<class>`` (float32) per class, in the model's class order; a
regressor's ``prediction`` (float32).
"""

from __future__ import annotations

import csv
import importlib.util
import os
from typing import Any

from tfpipe.components.core.errors import ParameterError

CLASS_ID, CLASS, PROBABILITY, PREDICTION = "class_id", "class", "probability_", "prediction"


def prediction_columns(task: str | None, classes: list[str] | None) -> list[str]:
    if task == "regression":
        return [PREDICTION]
    return [CLASS_ID, CLASS, *(f"{PROBABILITY}{c}" for c in classes or ["0", "1"])]


def data_columns(files: list[str], fmt: str) -> list[str] | None:
    """The columns of the first file (all files of one input share them), or None where they
    cannot be read before the run (an object not yet downloaded; Parquet without pyarrow, as in
    the orchestrator: the component process checks them before it scores)."""
    first = files[0]
    if first.startswith("s3://"):
        return None
    kind = fmt if fmt != "auto" else _kind(first)
    if kind == "csv":
        with open(first, newline="", encoding="utf-8-sig", errors="replace") as f:
            return [name.strip() for name in next(csv.reader(f), [])]
    if kind == "parquet":
        if importlib.util.find_spec("pyarrow") is None:
            return None
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(first).schema_arrow.names)
    if kind == "tfrecord":
        from tfpipe.components.core.example_codec import feature_kinds
        from tfpipe.components.core.tfrecord import read_records

        names: dict[str, None] = {}
        for index, record in enumerate(read_records(first)):
            names.update(dict.fromkeys(feature_kinds(record)))
            if index >= 1000:  # a feature absent from the first thousand records: run time
                break
        return list(names)
    return None  # an unknown suffix: the readers name it at run time


def _kind(path: str) -> str:
    name = path.lower().removesuffix(".gz")
    for kind, suffixes in (
        ("csv", (".csv", ".txt", ".tsv")),
        ("tfrecord", (".tfrecord", ".tfrecords", ".rio")),
        ("parquet", (".parquet", ".pq")),
    ):
        if name.endswith(suffixes):
            return kind
    return ""


def check_passthrough(
    passthrough: list[str], columns: list[str], outputs: dict[str, Any] | None, who: str
) -> None:
    """Refuse passthrough columns the data lacks, or that an output column would overwrite."""
    missing = [c for c in passthrough if c not in columns]
    if missing:
        raise ParameterError(
            f"{who}: passthrough column(s) {missing} are not in the data to score (its columns: "
            f"{columns}); fix bulk_inferrer.passthrough (--passthrough)"
        )
    if outputs and outputs.get("task"):
        clash = sorted(set(passthrough) & set(prediction_columns(**outputs)))
        if clash:
            raise ParameterError(
                f"{who}: passthrough column(s) {clash} have the names of prediction columns; "
                "rename them in the data"
            )


def describe_files(files: list[str], limit: int = 3) -> str:
    names = [os.path.basename(f) for f in files[:limit]]
    return ", ".join(names) + (f" and {len(files) - limit} more" if len(files) > limit else "")
