"""Readers that turn CSV, Parquet and TFRecord files into typed Arrow record batches.

CSV goes through pyarrow's streaming reader (C++ parsing, constant memory). Column types come from
the contract when there is one, else pyarrow's inference on the first block; a later value that
does not fit (text in a number column, a fraction in an integer one) widens that column one step
(int → float → string) and the pass restarts, so a file is read once in the common case and the
types hold for every row. Rows with the wrong number of fields fail the run naming the file and row,
or are set aside when ``on_malformed=skip``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tfpipe.components.core.errors import InputDataError
from tfpipe.components.example_gen.stats import NUMBER, arrow_kind

LADDER = [pa.null(), pa.int64(), pa.float64(), pa.string()]
ARROW = {"int": pa.int64(), "float": pa.float64(), "string": pa.string()}
BLOCK_SIZE = 4 << 20
_ERROR_COLUMN = re.compile(r"In CSV column #(\d+)")


class Widen(Exception):
    """A column needs a wider type than assumed: restart the pass with ``types``.

    ``column`` and ``first_unfit`` (where the first value that did not fit is, for a column the
    contract types) let the validator name the row instead of only the column."""

    def __init__(
        self,
        types: dict[str, pa.DataType],
        why: str,
        column: str | None = None,
        first_unfit: str | None = None,
    ) -> None:
        super().__init__(why)
        self.types = types
        self.column = column
        self.first_unfit = first_unfit


@dataclass
class Rejected:
    """Rows set aside as malformed: (file, row number, reason, raw text); or, when malformed
    rows are errors, the first one's message."""

    rows: list[tuple[str, int | None, str, str]] = field(default_factory=list)
    error: str | None = None


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


def _normalise(t: pa.DataType) -> pa.DataType:
    """Inferred Arrow types on tfpipe's ladder (booleans, dates, … are kept as text)."""
    if pa.types.is_integer(t):
        return pa.int64()
    if pa.types.is_floating(t):
        return pa.float64()
    if pa.types.is_null(t):
        return pa.null()
    return pa.string()


def _widen(t: pa.DataType) -> pa.DataType:
    return LADDER[min(LADDER.index(t) + 1, len(LADDER) - 1)] if t in LADDER else pa.string()


def check_column_names(names: list[str], where: str) -> None:
    """Any name a file can carry works end to end (spaces, punctuation, unicode, case), except
    none at all and the same name twice: those are refused here, when the data is first read."""
    empty = [i + 1 for i, n in enumerate(names) if not n]
    if empty:
        raise InputDataError(
            f"example_gen: {where} has a column with no name (column {empty[0]} of "
            f"{len(names)}); name it in the file's header, or remove it (a trailing separator "
            "makes one)"
        )
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputDataError(
            f"example_gen: {where} repeats column name(s) {dupes}; rename one of each in the file"
        )


class CsvSource:
    """CSV files with one header row each (all files must share it)."""

    def __init__(self, files: list[str], na_values: list[str], on_malformed: str) -> None:
        self.files = files
        self.na_values = na_values
        self.on_malformed = on_malformed
        self.columns = self._common_header()
        self.contracted: set[str] = set()

    def _header(self, path: str) -> list[str]:
        if os.path.getsize(path) == 0:
            raise InputDataError(
                f"example_gen: '{path}' is empty (no header row); remove it or fix the export"
            )
        try:
            reader = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(block_size=1 << 16),
                convert_options=pacsv.ConvertOptions(
                    column_types={}, include_columns=None, null_values=self.na_values
                ),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
            )
            names = [n.strip() for n in reader.schema.names]
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                raise InputDataError(
                    f"example_gen: '{path}' is empty (no header row); remove it or fix the export"
                ) from None
            names = self._header_from_text(path)
        except UnicodeDecodeError as exc:  # a column name that is not UTF-8
            raise InputDataError(
                f"example_gen: '{path}' header row is not UTF-8 text ({exc}); re-export the file "
                "as UTF-8"
            ) from None
        if not names or all(not n for n in names):
            raise InputDataError(f"example_gen: '{path}' has an empty header row")
        check_column_names(names, f"'{path}'")
        return names

    @staticmethod
    def _header_from_text(path: str) -> list[str]:
        import csv

        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                return [h.strip() for h in next(csv.reader(f), [])]
        except UnicodeDecodeError as exc:
            raise InputDataError(
                f"example_gen: '{path}' header row is not UTF-8 text ({exc}); re-export the file "
                "as UTF-8"
            ) from None
        except csv.Error as exc:
            raise InputDataError(
                f"example_gen: cannot read the header row of '{path}': {exc}"
            ) from None

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

    def initial_types(self, contract: dict[str, str]) -> dict[str, pa.DataType]:
        """The contract's types, else pyarrow's inference on the first block of the first file."""
        reader = self._open(self.files[0], None, Rejected())
        types = {f.name.strip(): _normalise(f.type) for f in reader.schema}
        for name, kind in contract.items():
            if name in types:
                types[name] = ARROW[kind]
                self.contracted.add(name)
        return types

    def _open(self, path: str, types: dict[str, pa.DataType] | None, rejected: Rejected) -> Any:
        def on_invalid(row: Any) -> str:
            reason = f"expected {row.expected_columns} fields, got {row.actual_columns}"
            if self.on_malformed == "error":
                # Numbered as records (the header is 1): the line, unless a quoted field above
                # spans lines.
                rejected.error = (
                    f"example_gen: '{path}' line {row.number}: {reason} "
                    f"({', '.join(self.columns)}). Fix the row, or set "
                    "example_gen.on_malformed=skip to set such rows aside"
                )
                return "error"
            rejected.rows.append((os.path.basename(path), row.number, reason, row.text))
            return "skip"

        convert = pacsv.ConvertOptions(
            null_values=self.na_values,
            strings_can_be_null=True,
            true_values=[],
            false_values=[],
            column_types=types or {},
        )
        try:
            return pacsv.open_csv(
                path,
                # One thread: row numbers are known (errors name the row), and the rest of the
                # step is single-threaded anyway.
                read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE, use_threads=False),
                parse_options=pacsv.ParseOptions(
                    newlines_in_values=True, invalid_row_handler=on_invalid
                ),
                convert_options=convert,
            )
        except UnicodeDecodeError as exc:
            raise InputDataError(f"example_gen: '{path}' is not UTF-8 text ({exc})") from None
        except pa.ArrowInvalid as exc:  # the first block is converted when the file opens
            if rejected.error:
                raise InputDataError(rejected.error) from None
            raise self._widened(exc, self.columns, types or {}, path) from None

    def _widened(
        self, exc: pa.ArrowInvalid, names: list[str], types: dict[str, pa.DataType], path: str
    ) -> Exception:
        """A conversion error names the column that needs a wider type (→ Widen), else the file.

        Bytes that are not UTF-8 cannot be widened away: that is an error naming the line. For a
        column the contract types, the first value that does not fit is located (a scan of the
        file, paid only when the data breaks its contract)."""
        match = _ERROR_COLUMN.search(str(exc))
        if not match:
            return InputDataError(f"example_gen: cannot read '{path}': {exc}")
        index = int(match.group(1))
        name = names[index]
        current = types.get(name, pa.null())
        if "UTF8" in str(exc) or current == LADDER[-1]:
            line, _ = _locate(path, index, self.na_values, _is_text)
            return InputDataError(
                f"example_gen: '{path}' line {line}, column '{name}': not UTF-8 text; re-export "
                "the file as UTF-8"
            )
        wider = {**types, name: _widen(current)}
        first = None
        if name in self.contracted:
            line, value = _locate(path, index, self.na_values, FITS[arrow_kind(current)])
            first = f"'{os.path.basename(path)}' line {line}: {value!r}" if line else None
        return Widen(wider, f"{name}: {current} → {wider[name]}", name, first)

    def batches(
        self, types: dict[str, pa.DataType], rejected: Rejected
    ) -> Iterator[pa.RecordBatch]:
        """Typed batches of every file, with column names stripped; raises Widen."""
        for path in self.files:
            reader = self._open(path, types, rejected)
            names = [n.strip() for n in reader.schema.names]
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except pa.ArrowInvalid as exc:
                    if rejected.error:
                        raise InputDataError(rejected.error) from None
                    raise self._widened(exc, names, types, path) from None
                except UnicodeDecodeError as exc:
                    raise InputDataError(
                        f"example_gen: '{path}' is not UTF-8 text ({exc}); re-export it as UTF-8"
                    ) from None
                yield pa.RecordBatch.from_arrays(batch.columns, names=names)


def _fits(kind: str) -> Any:
    """Whether text parses as the contract's ``kind`` of number: the same patterns the
    statistics count unfit values with, so the row named and the count agree."""
    pattern = re.compile(NUMBER[kind])
    return lambda value: pattern.match(value) is not None


def _is_text(value: str) -> bool:
    return not any("\udc80" <= ch <= "\udcff" for ch in value)


FITS = {"int": _fits("int"), "float": _fits("float"), "string": _is_text}


def _locate(path: str, index: int, na_values: list[str], fits: Any) -> tuple[int | None, str]:
    """The line and value of the first field in column ``index`` that ``fits`` refuses."""
    import csv

    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        reader = csv.reader(f)
        next(reader, None)
        for row in reader:
            if index < len(row):
                value = row[index]
                if value not in na_values and (not _is_text(value) or not fits(value.strip())):
                    return reader.line_num, value.encode("utf-8", "surrogateescape").decode(
                        "utf-8", "replace"
                    )
    return None, ""


class ParquetSource:
    def __init__(self, files: list[str]) -> None:
        import pyarrow.parquet as pq

        self.files = files
        self.columns = list(pq.ParquetFile(files[0]).schema_arrow.names)
        check_column_names(self.columns, f"'{files[0]}'")

    def initial_types(self, contract: dict[str, str]) -> dict[str, pa.DataType]:
        import pyarrow.parquet as pq

        schema = pq.ParquetFile(self.files[0]).schema_arrow
        types = {f.name: _normalise(f.type) for f in schema}
        types.update({n: ARROW[k] for n, k in contract.items() if n in types})
        return types

    def batches(
        self, types: dict[str, pa.DataType], rejected: Rejected
    ) -> Iterator[pa.RecordBatch]:
        import pyarrow.parquet as pq

        for path in self.files:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=65_536):
                yield _cast(batch, types, path)


class TFRecordSource:
    """Files of serialized tf.Example records with single-valued features (GZIP when named .gz).

    Records are read with their checksums checked (``read_records``) and decoded 64k at a time by
    tfx-bsl's C++ decoder, without TensorFlow; every error names the file and the record's index
    in that file."""

    CHUNK = 65_536

    def __init__(self, files: list[str]) -> None:
        self.files = files
        self.types: dict[str, pa.DataType] = {}
        for _path, _start, batch in self._chunks():
            for f in batch.schema:
                old = self.types.get(f.name, pa.null())
                self.types[f.name] = max(old, f.type, key=LADDER.index)
        if not self.types:
            raise InputDataError(f"example_gen: TFRecord input {files} holds no features")
        self.columns = list(self.types)

    def _chunks(self) -> Iterator[tuple[str, int, pa.RecordBatch]]:
        """(file, index of the chunk's first record in it, scalar columns) of every chunk."""
        from tfx_bsl.coders import example_coder

        from tfpipe.components.core.tfrecord import read_records

        decoder = example_coder.ExamplesToRecordBatchDecoder()
        for path in self.files:
            start, chunk = 0, []
            for record in read_records(path):
                chunk.append(record)
                if len(chunk) == self.CHUNK:
                    yield path, start, _decode_examples(decoder, chunk, path, start)
                    start, chunk = start + len(chunk), []
            if chunk:
                yield path, start, _decode_examples(decoder, chunk, path, start)

    def initial_types(self, contract: dict[str, str]) -> dict[str, pa.DataType]:
        types = dict(self.types)
        types.update({n: ARROW[k] for n, k in contract.items() if n in types})
        return types

    def batches(
        self, types: dict[str, pa.DataType], rejected: Rejected
    ) -> Iterator[pa.RecordBatch]:
        for path, start, batch in self._chunks():
            n = batch.num_rows
            present = dict(zip(batch.schema.names, batch.columns, strict=True))
            full = [present.get(c, pa.nulls(n, types.get(c, pa.null()))) for c in self.columns]
            where = f"{path} (records {start}-{start + n - 1})"
            yield _cast(pa.RecordBatch.from_arrays(full, names=self.columns), types, where)


def _decode_examples(decoder: Any, records: list[bytes], path: str, start: int) -> pa.RecordBatch:
    """Serialized tf.Examples → one scalar column per feature (an absent or empty feature is a
    missing value); a record that is not a tf.Example, a feature whose kind changes, more than
    one value or bytes that are not UTF-8 text is an error naming the record."""
    try:
        decoded = decoder.DecodeBatch(records)
    except RuntimeError as exc:
        raise _locate_record(decoder, records, path, start, exc) from None
    arrays, names = [], []
    for name, col in zip(decoded.schema.names, decoded.columns, strict=True):
        if pa.types.is_null(col.type):
            arrays.append(col)
            names.append(name)
            continue
        lengths = pc.fill_null(pc.list_value_length(col), 0).to_numpy(zero_copy_only=False)
        several = np.flatnonzero(lengths > 1)
        if len(several):
            first = int(several[0])
            raise InputDataError(
                f"example_gen: '{path}' record {start + first}: feature '{name}' has "
                f"{lengths[first]} values; only single-valued features are supported"
            )
        offsets = np.asarray(col.offsets)[:-1]
        values = pc.take(col.values, pa.array(offsets, mask=lengths == 0))
        if pa.types.is_floating(values.type):
            values = values.cast(pa.float64())
        elif pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type):
            values = _as_text(values, path, start, name)
        arrays.append(values)
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _as_text(values: pa.Array, path: str, start: int, name: str) -> pa.Array:
    try:
        return values.cast(pa.string())
    except pa.ArrowInvalid:
        for i, value in enumerate(values.to_pylist()):
            try:
                (value or b"").decode("utf-8")
            except UnicodeDecodeError:
                raise InputDataError(
                    f"example_gen: '{path}' record {start + i}: feature '{name}' is not UTF-8 "
                    "text; write text features as UTF-8"
                ) from None
        raise


def _locate_record(
    decoder: Any, records: list[bytes], path: str, start: int, exc: RuntimeError
) -> InputDataError:
    """The first record that does not decode, or whose feature kinds differ from the records
    before it (paid only when a chunk fails)."""
    kinds: dict[str, str] = {}
    for i, record in enumerate(records):
        try:
            one = decoder.DecodeBatch([record])
        except RuntimeError as why:
            return InputDataError(
                f"example_gen: '{path}' record {start + i} is not a serialized tf.Example ({why})"
            )
        for f in one.schema:
            kind = str(f.type.value_type) if hasattr(f.type, "value_type") else "null"
            if kind != "null" and kinds.setdefault(f.name, kind) != kind:
                return InputDataError(
                    f"example_gen: '{path}' record {start + i}: feature '{f.name}' holds "
                    f"{kind} values where earlier records hold {kinds[f.name]}"
                )
    last = start + len(records) - 1
    return InputDataError(f"example_gen: '{path}' records {start}-{last}: {exc}")


def _cast(batch: pa.RecordBatch, types: dict[str, pa.DataType], where: str) -> pa.RecordBatch:
    arrays = []
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        target = types.get(name, _normalise(col.type))
        if col.type != target:
            try:
                col = col.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise Widen({**types, name: _widen(target)}, f"{name} in {where}") from None
        arrays.append(col)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def open_source(files: list[str], fmt: str, na_values: list[str], on_malformed: str) -> Any:
    fmt = detect_format(files, fmt)
    if fmt == "csv":
        return CsvSource(files, na_values, on_malformed)
    if fmt == "tfrecord":
        return TFRecordSource(files)
    return ParquetSource(files)
