"""Scoring as a Beam pipeline, on any runner ``bulk_inferrer.beam_args`` names, with tfx-bsl's
``RunInference`` (what TFX's BulkInferrer runs on): its in-process SavedModel handler, Predict
on ``serving_default``, the model loaded once per worker.

Why tfx-bsl's and not Beam's own TensorFlow model handler: Beam's imports ``tensorflow_hub``,
which neither locked runtime holds; tfx-bsl's ships with tf.Transform in both, and it takes the
serialized raw tf.Examples the serving contract is about.

The same reading as in-process (each input file read by a worker with ExampleGen's readers, in
chunks of the budget's batch size that divide ``rows_per_shard``), keyed batches through
``RunInferenceOnKeyedBatches``, then each shard's chunks grouped and written by a worker, so the
files are the same as the in-process path's (same names, same rows in the same order). As with
ExampleGen on Beam, workers write into the artifact's staging directory and report through small
files beside it: the workers of the runners tested here share the machine's filesystem (on a
cluster the staging must be shared storage).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from typing import Any

import pyarrow as pa

from tfpipe.components.artifacts import InferenceResult
from tfpipe.components.bulk_inferrer.reading import Rows
from tfpipe.components.bulk_inferrer.writing import ShardWriter
from tfpipe.components.core.errors import TfpipeError

RESULTS = "_beam_results"


def chunk_rows(batch_size: int, rows_per_shard: int) -> int:
    """The largest chunk no bigger than the batch that divides a shard: chunks then never
    straddle two shards."""
    for size in range(min(batch_size, rows_per_shard), 0, -1):
        if rows_per_shard % size == 0:
            return size
    return 1


def score_on_beam(
    p: Any, rows: Rows, model: Any, writer: ShardWriter, batch_size: int, kinds: dict[str, str]
) -> tuple[list[tuple[str, int]], str]:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from tfx_bsl.public.beam.run_inference import RunInferenceOnKeyedBatches
    from tfx_bsl.public.proto import model_spec_pb2

    # RunInference picks its output coder from this: (key, [serialized tf.Example]) batches.
    keyed_batch = beam.typehints.Tuple[Any, beam.typehints.List[bytes]]
    out = writer.out
    results = out.path(RESULTS)
    shutil.rmtree(results, ignore_errors=True)
    os.makedirs(results)
    chunk = chunk_rows(batch_size, p.rows_per_shard)
    spec = model_spec_pb2.InferenceSpecType(
        saved_model_spec=model_spec_pb2.SavedModelSpec(
            model_path=model.dir, signature_name=["serving_default"]
        )
    )
    with beam.Pipeline(options=PipelineOptions(list(p.beam_args))) as pipeline:
        _ = (
            pipeline
            | "Files" >> beam.Create(list(enumerate(rows.files)))
            | "Spread" >> beam.Reshuffle()
            | "Read"
            >> beam.FlatMap(
                read_chunks, rows=rows, chunk=chunk, kinds=kinds, results=results
            ).with_output_types(keyed_batch)
            | "Score" >> RunInferenceOnKeyedBatches(spec, load_override_fn=load_session)
            | "Predictions"
            >> beam.Map(
                to_columns,
                classes=model.info.get("classes"),
                chunk=chunk,
                rows_per_shard=p.rows_per_shard,
                name=model.name,
            )
            | "Shards" >> beam.GroupByKey()
            | "Write"
            >> beam.Map(
                write_shard,
                out_root=out.root,
                output_format=p.output_format,
                rows_per_shard=p.rows_per_shard,
                results=results,
            )
        )
    return _collect(results, out)


def load_session(model_path: str, tags: list[str]) -> Any:
    """tfx-bsl's own loader (a TF1 session on the SavedModel), with rank-1 string outputs
    (``classes``) handed over as fixed-width bytes: tfx-bsl splits outputs row by row with
    ``output[i]``, which for an object array is a Python ``bytes`` without the ``dtype`` its
    PredictionLog encoder reads (it fails on any rank-1 string output)."""
    import tensorflow as tf

    session = tf.compat.v1.Session(graph=tf.compat.v1.Graph())
    tf.compat.v1.saved_model.loader.load(session, tags, model_path)
    return _FixedWidthStrings(session)


class _FixedWidthStrings:
    def __init__(self, session: Any) -> None:
        self.session = session

    def run(self, fetches: Any, feed_dict: Any) -> Any:
        outputs = self.session.run(fetches, feed_dict=feed_dict)
        return {
            alias: value.astype(bytes) if value.dtype == object and value.ndim == 1 else value
            for alias, value in outputs.items()
        }


def read_chunks(
    element: tuple[int, str], *, rows: Rows, chunk: int, kinds: dict[str, str], results: str
) -> Any:
    """One input file as keyed batches of serialized examples: key (file, chunk, passthrough
    columns as Arrow IPC bytes). A data error is reported to the driver, not buried in Beam."""
    index, path = element
    one = Rows([path], rows.format, rows.na_values, rows.model_types, rows.passthrough)
    try:
        for number, batch in enumerate(one.batches(chunk)):
            passthrough = batch.passthrough
            if passthrough is None:
                from tfpipe.components.bulk_inferrer.model import passthrough_from_examples

                passthrough = passthrough_from_examples(batch.records, kinds)
            yield (index, number, _ipc(passthrough, batch.rows)), batch.records
    except TfpipeError as error:
        with open(os.path.join(results, f"error-{index:05d}.pkl"), "wb") as f:
            pickle.dump(error, f)


def to_columns(
    element: tuple[Any, list[Any]],
    *,
    classes: list[str] | None,
    chunk: int,
    rows_per_shard: int,
    name: str,
) -> tuple[tuple[int, int], tuple[int, bytes, str]]:
    """PredictionLogs of one chunk → its output table (passthrough, then predictions), keyed by
    the shard it belongs to."""
    import numpy as np
    import tensorflow as tf

    from tfpipe.components.bulk_inferrer.model import prediction_arrays, task_of

    (index, number, passthrough_ipc), logs = element
    responses = [log.predict_log.response.outputs for log in logs]
    outputs = {
        alias: np.concatenate([tf.make_ndarray(r[alias]) for r in responses])
        for alias in responses[0]
    }
    table = _from_ipc(passthrough_ipc)
    for column, values in prediction_arrays(outputs, classes, name).items():
        table = table.append_column(column, values)
    shard = number * chunk // rows_per_shard
    return (index, shard), (number, _ipc(table, table.num_rows), task_of(outputs, name))


def write_shard(
    element: tuple[tuple[int, int], list[tuple[int, bytes, str]]],
    *,
    out_root: str,
    output_format: str,
    rows_per_shard: int,
    results: str,
) -> None:
    (index, shard), chunks = element
    ordered = sorted(chunks)
    out = InferenceResult(uri=out_root, manifest={"type": InferenceResult.TYPE}, root=out_root)
    writer = ShardWriter(out, output_format, rows_per_shard)
    rows = writer.write_shard(index, shard, (_from_ipc(t) for _, t, _ in ordered))
    path = out.shard_path(index, shard, output_format)
    done = {"path": path, "rows": rows, "task": ordered[0][2]}
    with open(os.path.join(results, f"shard-{index:05d}-{shard:05d}.json"), "w") as f:
        json.dump(done, f)


def _collect(results: str, out: InferenceResult) -> tuple[list[tuple[str, int]], str]:
    names = sorted(os.listdir(results))
    for name in names:
        if name.startswith("error-"):
            with open(os.path.join(results, name), "rb") as f:
                raise pickle.load(f)
    written, task = [], ""
    for name in names:
        with open(os.path.join(results, name)) as f:
            done = json.load(f)
        written.append((done["path"], done["rows"]))
        task = task or done["task"]
    shutil.rmtree(results, ignore_errors=True)
    return written, task


def _ipc(table: pa.Table, rows: int) -> bytes:
    """A table as Arrow IPC bytes; the row count travels along for a table without columns."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)
    return rows.to_bytes(8, "little") + sink.getvalue().to_pybytes()


def _from_ipc(data: bytes) -> pa.Table:
    rows = int.from_bytes(data[:8], "little")
    table = pa.ipc.open_stream(data[8:]).read_all()
    if table.num_columns == 0:  # a zero-column table cannot hold its row count: rebuild it
        return pa.table({"_": pa.nulls(rows)}).select([])
    return table
