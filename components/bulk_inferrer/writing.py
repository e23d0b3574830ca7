"""Sharded output: Parquet (default), CSV or tf.Example TFRecords, in input order.

Each input file's rows go to its own shards, ``rows_per_shard`` rows each
(``part-<input file>-<shard>``), so the output of one input file is found by name and rows keep
their order. Files are written into the artifact's private staging directory: nothing is visible
before the whole artifact commits.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any

import pyarrow as pa

from tfpipe.components.artifacts import InferenceResult
from tfpipe.components.core.tfrecord import TFRecordWriter, encode_examples


class _Shard:
    def __init__(self, path: str, output_format: str, schema: pa.Schema) -> None:
        self.path, self.rows = path, 0
        if output_format == "parquet":
            import pyarrow.parquet as pq

            self._writer: Any = pq.ParquetWriter(path, schema)
        elif output_format == "csv":
            import pyarrow.csv as pacsv

            self._writer = pacsv.CSVWriter(path, schema)
        else:
            self._writer = TFRecordWriter(path)
        self.tfrecord = output_format == "tfrecord"

    def write(self, table: pa.Table) -> None:
        if self.tfrecord:
            for batch in table.combine_chunks().to_batches():
                self._writer.write_many(encode_examples(batch))
        else:
            self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()


class ShardWriter:
    def __init__(self, out: InferenceResult, output_format: str, rows_per_shard: int) -> None:
        self.out, self.format, self.rows_per_shard = out, output_format, rows_per_shard
        self._current: _Shard | None = None
        self._file_index = -1
        self._shard = 0
        self.written: list[tuple[str, int]] = []  # (path, rows), in order

    def write(self, file_index: int, table: pa.Table) -> None:
        offset = 0
        while offset < table.num_rows:
            shard = self._shard_for(file_index, table.schema)
            take = min(self.rows_per_shard - shard.rows, table.num_rows - offset)
            shard.write(table.slice(offset, take))
            offset += take

    def write_shard(self, file_index: int, shard: int, tables: Iterable[pa.Table]) -> int:
        """A whole shard at once (a Beam worker writes the shards of its chunks)."""
        target: _Shard | None = None
        for table in tables:
            if target is None:
                path = self.out.shard_path(file_index, shard, self.format)
                target = _Shard(path, self.format, table.schema)
            target.write(table)
        if target is None:
            return 0
        target.close()
        return target.rows

    def _shard_for(self, file_index: int, schema: pa.Schema) -> _Shard:
        current = self._current
        if current is not None and file_index == self._file_index:
            if current.rows < self.rows_per_shard:
                return current
            self._shard += 1
        else:
            self._shard = 0
        self._close_current()
        self._file_index = file_index
        path = self.out.shard_path(file_index, self._shard, self.format)
        self._current = _Shard(path, self.format, schema)
        return self._current

    def _close_current(self) -> None:
        if self._current is not None:
            self._current.close()
            self.written.append((self._current.path, self._current.rows))
            self._current = None

    def close(self) -> list[tuple[str, int]]:
        self._close_current()
        return self.written


class Background:
    """Calls ``write(*item)`` for each item put, on a thread (writing overlaps scoring); at most
    ``depth`` items wait. An error on the thread is raised by the next ``put`` or at exit."""

    def __init__(self, write: Any, depth: int = 2) -> None:
        self._write = write
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="tfpipe-writer", daemon=True)

    def __enter__(self) -> Background:
        self._thread.start()
        return self

    def put(self, *item: Any) -> None:
        self._raise()
        self._queue.put(item)

    def _drain(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._write(*item)
                except BaseException as exc:  # handed to the scoring thread
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._queue.put(None)
        self._thread.join()
        if kind is None:
            self._raise()


def prefetched(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """``items`` produced on a thread, at most ``depth`` ahead (reading and encoding overlap
    scoring); an error on the thread is raised where the item would have been."""
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put((True, done))
        except BaseException as exc:
            slots.put((False, exc))

    thread = threading.Thread(target=produce, name="tfpipe-reader", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = slots.get()
            if not ok:
                raise item
            if item is done:
                return
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
