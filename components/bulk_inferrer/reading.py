"""The rows to score, in input order: batches of serialized raw tf.Examples (what
``serving_default`` takes) and the passthrough columns of the same rows.

CSV and Parquet go through ExampleGen's readers (pyarrow's streaming reader; errors name the file,
line and column) with the model's raw feature types as the contract, then into tf.Examples by
tfx-bsl's encoder, so new rows reach the model with the types its training rows had. Columns the
model does not read are carried as text (CSV: an id keeps its leading zeros, no type is guessed
for it) or as ExampleGen reads them (Parquet: integers as int64, floats as float64, others as
text). TFRecord files (raw tf.Examples, e.g. an Examples artifact)
go to the model as they are; their passthrough columns are parsed next to the model (TensorFlow).
No TensorFlow is imported here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from tfpipe.components.core.errors import InputDataError
from tfpipe.components.core.example_codec import feature_kinds
from tfpipe.components.core.tfrecord import encode_examples, read_records
from tfpipe.components.example_gen.readers import Rejected, Widen, detect_format, open_source

WHO = "bulk_inferrer"
TFRECORD = "tfrecord"


@dataclass
class RowBatch:
    """Up to one batch of rows of one input file."""

    file_index: int
    records: list[bytes]
    passthrough: pa.Table | None  # None: parse from ``records`` (TFRecord input)

    @property
    def rows(self) -> int:
        return len(self.records)


class Rows:
    """The input files as row batches. ``model_types``: the model's raw features (``{name: "int" |
    "float" | "string"}``), or None when the model does not record them (types are then inferred
    from the data, as ExampleGen does)."""

    def __init__(
        self,
        files: list[str],
        fmt: str,
        na_values: list[str],
        model_types: dict[str, str] | None,
        passthrough: list[str],
    ) -> None:
        self.files = files
        self.format = detect_format(files, fmt) if files else TFRECORD
        self.na_values = na_values
        self.model_types = model_types
        self.passthrough = passthrough

    def passthrough_kinds(self) -> dict[str, str]:
        """For TFRecord input: each passthrough column's feature kind (the model's type when it
        is a model feature, else what the first records hold)."""
        seen: dict[str, str] = {}
        for index, record in enumerate(read_records(self.files[0])):
            seen.update({k: v for k, v in feature_kinds(record).items() if k not in seen})
            if index >= 1000:
                break
        types = self.model_types or {}
        return {c: types.get(c) or seen.get(c, "string") for c in self.passthrough}

    def batches(self, size: int) -> Iterator[RowBatch]:
        for index, path in enumerate(self.files):
            if self.format == TFRECORD:
                yield from self._records(index, path, size)
            else:
                yield from self._table_rows(index, path, size)

    def _records(self, index: int, path: str, size: int) -> Iterator[RowBatch]:
        chunk: list[bytes] = []
        for record in read_records(path):
            chunk.append(record)
            if len(chunk) == size:
                yield RowBatch(index, chunk, None)
                chunk = []
        if chunk:
            yield RowBatch(index, chunk, None)

    def _table_rows(self, index: int, path: str, size: int) -> Iterator[RowBatch]:
        try:
            source = open_source([path], self.format, self.na_values, "error")
            known = self.model_types
            if known is None:  # no recorded types: every column is a feature, types inferred
                contract, features = {}, list(source.columns)
            else:
                features = [c for c in source.columns if c in known]
                contract = {c: known.get(c, "string") for c in source.columns}
                if self.format != "csv":  # Parquet keeps the stored types of other columns
                    contract = {c: known[c] for c in features}
                if not features:
                    raise InputDataError(
                        f"{WHO}: '{path}' has none of the columns the model reads "
                        f"({sorted(known)}); its columns: {source.columns}"
                    )
            types = source.initial_types(contract)
            for table in rechunk(source.batches(types, Rejected()), size):
                features_batch = table.select(features).combine_chunks().to_batches()
                # serving_default parses every raw feature as optional: an empty one is missing.
                records = (
                    encode_examples(features_batch[0], empty_for_missing=True)
                    if features_batch
                    else []
                )
                yield RowBatch(index, records, table.select(self.passthrough))
        except Widen as wider:
            raise InputDataError(_unfit(path, wider, self.model_types)) from None
        except InputDataError as error:
            raise InputDataError(as_scoring_error(str(error))) from None


def rechunk(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.Table]:
    """Tables of exactly ``size`` rows (the last one smaller) from record batches of any size."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        while count >= size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, size)
            rest = table.slice(size)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending)


def _unfit(path: str, wider: Widen, model_types: dict[str, str] | None) -> str:
    column = wider.column or str(wider).split(":")[0]
    expected = (model_types or {}).get(column)
    where = f" ({wider.first_unfit})" if wider.first_unfit else ""
    if expected:
        return (
            f"{WHO}: '{path}' column '{column}': a value does not fit the model's {expected} "
            f"feature{where}; fix the data (the model reads '{column}' as {expected})"
        )
    return (
        f"{WHO}: '{path}' column '{column}' changes type within the file{where}; the model "
        "records no raw feature types, so the data's own must hold"
    )


def as_scoring_error(message: str) -> str:
    """An ExampleGen reader's message (naming file, line and column) as the Bulk Inferrer's: its
    remedy ``on_malformed=skip`` does not apply (every row is scored, or none)."""
    message = message.replace("example_gen: ", f"{WHO}: ", 1)
    return re.sub(
        r"Fix the row, or set example_gen\.on_malformed=skip.*$", "Fix the row", message, flags=re.S
    )
