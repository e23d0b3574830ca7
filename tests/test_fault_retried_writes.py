"""Retried writes: a Beam runner re-executes a bundle whose worker died or whose result it lost.
Transform's shards are written under temporary names and committed only for the bundles the
runner committed, so a retried bundle's first attempt (cut short, or whole) never becomes data;
the reader trusts only the shard listing and refuses a duplicate or partial shard by name."""

from __future__ import annotations

import os
import shutil

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pytest

from tfpipe.components.artifacts import TransformGraph
from tfpipe.components.core.errors import InputDataError
from tfpipe.components.core.tfrecord import read_records
from tfpipe.components.transform import beam_io


def _batch(start: int, rows: int) -> pa.RecordBatch:
    values = pa.array(np.arange(start, start + rows, dtype=np.int64))
    offsets = pa.array(np.arange(rows + 1, dtype=np.int32))
    return pa.record_batch([pa.ListArray.from_arrays(offsets, values)], names=["v"])


def _graph(tmp_path) -> TransformGraph:
    return TransformGraph("file://test", {"type": "TransformGraph"}, root=str(tmp_path))


def _rows(graph: TransformGraph) -> list[int]:
    import tensorflow as tf

    return sorted(
        tf.train.Example.FromString(record).features.feature["v"].int64_list.value[0]
        for path in graph.transformed_files("train")
        for record in read_records(path)
    )


def test_a_retried_bundles_first_attempts_never_become_shards(tmp_path):
    graph = _graph(tmp_path)
    directory = graph.transformed_dir("train")

    def attempt(batch: pa.RecordBatch, finish: bool) -> list[dict]:
        fn = beam_io.WriteShards(directory)
        fn.start_bundle()
        list(fn.process(batch) or [])
        return [wv.value for wv in fn.finish_bundle()] if finish else []

    attempt(_batch(0, 50_000), finish=False)  # the worker died mid-bundle: a partial shard
    attempt(_batch(0, 50_000), finish=True)  # done, but the runner lost its result: retried
    committed = attempt(_batch(0, 50_000), finish=True)  # the attempt the runner committed
    committed += attempt(_batch(50_000, 10), finish=True)  # another bundle
    assert beam_io.finalize_shards(committed, directory) == 50_010
    assert _rows(graph) == list(range(50_010))  # each row once
    assert sorted(os.listdir(directory)) == [
        "part-00000-of-00002.tfrecord",
        "part-00001-of-00002.tfrecord",
        "shards.json",
    ]
    graph.check_transformed("train", 50_010)
    assert beam_io.finalize_shards(committed, directory) == 50_010  # a retried finalize: same


def test_the_reader_refuses_a_duplicate_or_partial_shard_by_name(tmp_path):
    graph = _graph(tmp_path)
    directory = graph.transformed_dir("train")
    with beam.Pipeline(
        options=beam.options.pipeline_options.PipelineOptions(["--direct_running_mode=in_memory"])
    ) as pipeline:
        _ = (
            pipeline
            | beam.Create([_batch(0, 100), _batch(100, 100)])
            | beam_io.WriteSplit(directory)
        )
    assert _rows(graph) == list(range(200))
    shards = graph.transformed_files("train")

    copy = os.path.join(directory, "part-zzzzz.tfrecord")
    shutil.copy(shards[0], copy)  # a duplicate a retried bundle could leave
    with pytest.raises(InputDataError, match=r"part-zzzzz\.tfrecord is not in shards\.json"):
        graph.transformed_files("train")
    os.remove(copy)

    with open(shards[-1], "r+b") as f:  # a shard cut short
        f.truncate(os.path.getsize(shards[-1]) - 3)
    with pytest.raises(InputDataError, match=rf"{os.path.basename(shards[-1])} is \d+ bytes"):
        graph.transformed_files("train")

    os.remove(os.path.join(directory, "shards.json"))  # never committed
    with pytest.raises(InputDataError, match=r"no shards\.json"):
        graph.transformed_files("train")
