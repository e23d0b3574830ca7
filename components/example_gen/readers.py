"""Streaming row readers for CSV, TFRecord (tf.Example) and Parquet: one row at a time, any size."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from typing import Any

from components.core.errors import InputDataError

Row = dict[str, Any]


def detect_format(files: list[str], fmt: str) -> str:
    if fmt != "auto":
        return fmt
    kinds = set()
    for f in files:
        name = f.lower().removesuffix(".gz")
        if name.endswith((".csv", ".txt", ".tsv")):
            kinds.add("csv")
        elif name.endswith((".tfrecord", ".tfrecords", ".rio")):
            kinds.add("tfrecord")
        elif name.endswith((".parquet", ".pq")):
            kinds.add("parquet")
        else:
            raise InputDataError(
                f"example_gen: cannot tell the format of '{f}' from its name; "
                "set example_gen.format to csv, tfrecord or parquet"
            )
    if len(kinds) > 1:
        raise InputDataError(f"example_gen: input mixes formats {sorted(kinds)}; use one per run")
    return kinds.pop()


class CsvReader:
    """CSV with a header row per file; quoted fields (commas, newlines) and NA markers handled."""

    def __init__(self, files: list[str], na_values: list[str], on_malformed: str) -> None:
        self.files = files
        self.na = set(na_values)
        self.on_malformed = on_malformed
        self.rejected: list[tuple[str, int, list[str]]] = []
        self.columns = self._common_header()

    def _header(self, path: str) -> list[str]:
        with open(path, newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), None)
        if not header or all(not h.strip() for h in header):
            raise InputDataError(
                f"example_gen: '{path}' is empty (no header row); remove it or fix the export"
            )
        names = [h.strip() for h in header]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InputDataError(f"example_gen: '{path}' repeats column name(s) {dupes}")
        return names

    def _common_header(self) -> list[str]:
        first = self._header(self.files[0])
        for path in self.files[1:]:
            header = self._header(path)
            if header != first:
                raise InputDataError(
                    f"example_gen: '{path}' has columns {header} but '{self.files[0]}' has "
                    f"{first}; all files of one input must share a header"
                )
        return first

    def rows(self, collect_rejected: bool = False) -> Iterator[Row]:
        width = len(self.columns)
        for path in self.files:
            with open(path, newline="", encoding="utf-8-sig") as f:
                reader = csv.reader(f)
                next(reader, None)
                for fields in reader:
                    if not fields:
                        continue
                    if len(fields) != width:
                        if self.on_malformed == "error":
                            raise InputDataError(
                                f"example_gen: '{path}' line {reader.line_num}: expected {width} "
                                f"fields ({', '.join(self.columns)}), got {len(fields)}. Fix the "
                                "row, or set example_gen.on_malformed=skip to set such rows aside"
                            )
                        if collect_rejected:
                            self.rejected.append((os.path.basename(path), reader.line_num, fields))
                        continue
                    yield {
                        name: (None if value.strip() in self.na else value)
                        for name, value in zip(self.columns, fields, strict=False)
                    }


class TFRecordReader:
    """Files of serialized tf.Example records (GZIP when the name ends in .gz); scalar features."""

    def __init__(self, files: list[str]) -> None:
        self.files = files
        names: dict[str, None] = {}
        for row in self.rows():
            names.update(dict.fromkeys(row))
        if not names:
            raise InputDataError(f"example_gen: TFRecord input {files} holds no features")
        self.columns = list(names)

    def rows(self, collect_rejected: bool = False) -> Iterator[Row]:
        import tensorflow as tf

        for path in self.files:
            compression = "GZIP" if path.endswith(".gz") else ""
            for index, record in enumerate(tf.data.TFRecordDataset(path, compression)):
                example = tf.train.Example.FromString(record.numpy())
                row: Row = {}
                for name, feature in example.features.feature.items():
                    kind = feature.WhichOneof("kind")
                    values = list(getattr(feature, kind).value) if kind else []
                    if len(values) > 1:
                        raise InputDataError(
                            f"example_gen: '{path}' record {index}: feature '{name}' has "
                            f"{len(values)} values; only single-valued features are supported"
                        )
                    row[name] = values[0] if values else None
                yield row


class ParquetReader:
    """Parquet files read in record batches (never a whole file at once)."""

    def __init__(self, files: list[str]) -> None:
        import pyarrow.parquet as pq

        self.files = files
        self.columns = list(pq.ParquetFile(files[0]).schema_arrow.names)

    def rows(self, collect_rejected: bool = False) -> Iterator[Row]:
        import pyarrow.parquet as pq

        for path in self.files:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=8192):
                yield from batch.to_pylist()


def open_reader(files: list[str], fmt: str, na_values: list[str], on_malformed: str):
    fmt = detect_format(files, fmt)
    if fmt == "csv":
        return CsvReader(files, na_values, on_malformed)
    if fmt == "tfrecord":
        return TFRecordReader(files)
    return ParquetReader(files)
