"""Bulk Inferrer entry point: refuse an unblessed model, read the rows (ExampleGen's readers),
score them through ``serving_default`` in batches sized by a memory budget, and write the
passthrough columns and predictions as sharded files into the artifact (committed atomically by
the caller, like every artifact)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from tfpipe.components.artifacts import (
    Examples,
    InferenceResult,
    Model,
    ModelEvaluation,
    ServingDirectory,
)
from tfpipe.components.bulk_inferrer.columns import check_passthrough, data_columns, describe_files
from tfpipe.components.bulk_inferrer.model import Scorer, passthrough_from_examples
from tfpipe.components.bulk_inferrer.params import BulkInferrerParams
from tfpipe.components.bulk_inferrer.reading import TFRECORD, Rows
from tfpipe.components.bulk_inferrer.writing import Background, ShardWriter, prefetched
from tfpipe.components.core.batching import BatchPlan, plan_batches
from tfpipe.components.core.errors import InputDataError
from tfpipe.components.core.spec import Context
from tfpipe.components.example_gen.inputs import check_unchanged, local_copies

PROBE_ROWS = 4096
PROGRESS_EVERY = 1_000_000
LISTED_FILES = 20  # file names in the summary (and the asset event); all are in scoring.json


class ScoringModel:
    """The model to score with: a local SavedModel, what it records, and its served version."""

    def __init__(self, ctx: Context) -> None:
        p: BulkInferrerParams = ctx.params
        model: Model | None = ctx.inputs.get("model")
        if model is not None:
            _check_blessed(model, ctx.inputs.get("evaluation"), p.allow_unblessed)
            self.dir, self.info = model.serving_dir, model.info()
            self.version: int | None = None
            self.name, self.uri = f"model {model.uri}", model.uri
        else:
            serving = ServingDirectory.at(p.serving_model_dir)
            assert isinstance(serving, ServingDirectory)
            self.version = int(ctx.external["model_version"])
            self.dir = serving.local_copy(self.version)
            self.info = serving.info(self.version) or {}
            self.uri = serving.version_dir(self.version)
            self.name = f"version {self.version} of {serving.model_dir}"


def _check_blessed(model: Model, evaluation: ModelEvaluation | None, allowed: bool) -> None:
    if evaluation is None or allowed:
        return
    scored = evaluation.input_refs().get("model", {}).get("fingerprint")
    if scored != model.fingerprint:
        raise InputDataError(
            f"bulk_inferrer: evaluation {evaluation.uri} is of model {scored}, not of {model.uri}"
        )
    if not evaluation.blessed:
        from tfpipe.components.pusher.run import refusal_reason

        reason = refusal_reason(evaluation.evaluation())
        raise InputDataError(
            f"bulk_inferrer: model {model.uri} is not blessed ({reason}); refusing to score with "
            "it (set bulk_inferrer.allow_unblessed=true to score anyway)"
        )


def run(ctx: Context) -> dict[str, Any]:
    p: BulkInferrerParams = ctx.params
    model = ScoringModel(ctx)
    examples: Examples | None = ctx.inputs.get("examples")
    if examples is not None:
        splits = [p.split] if p.split else examples.splits()
        files = [f for split in splits for f in examples.split_files(split)]
        schema = examples.schema()
        kinds = {c: schema.column(c).type for c in p.passthrough if c in schema.names}
        check_passthrough(p.passthrough, schema.names, _outputs(model), "bulk_inferrer")
        return score(ctx, model, files, TFRECORD, kinds, [examples.uri])
    files = list(ctx.external["input_files"])
    stamps = ctx.external.get("input_stamps") or {}
    check_unchanged(files, stamps, p.data_roots)  # what is read is what was fingerprinted ...
    with local_copies(files, ctx.external.get("input_objects") or {}, ctx.progress) as local:
        columns = data_columns(local, p.input_format)
        if columns is not None:  # checked at planning too, unless the data was remote
            check_passthrough(p.passthrough, columns, _outputs(model), "bulk_inferrer")
        summary = score(ctx, model, local, p.input_format, None, files)
    check_unchanged(files, stamps, p.data_roots)  # ... and nothing was written while it was read
    return summary


def _outputs(model: ScoringModel) -> dict[str, Any]:
    return {"task": model.info.get("task"), "classes": model.info.get("classes")}


def score(
    ctx: Context,
    model: ScoringModel,
    files: list[str],
    fmt: str,
    kinds: dict[str, str] | None,
    sources: list[str],
) -> dict[str, Any]:
    """Score the rows of ``files`` (local paths) into the output; ``sources``: what they are
    (the data files or objects as named, or the Examples artifact), for the record."""
    p: BulkInferrerParams = ctx.params
    out: InferenceResult = ctx.output
    rows = Rows(files, fmt, p.na_values, model.info.get("raw_features"), p.passthrough)
    if rows.format == TFRECORD and kinds is None:
        kinds = rows.passthrough_kinds()
    scorer = Scorer(model.dir, model.info, model.name)
    sample = next(rows.batches(PROBE_ROWS), None)
    if sample is None:
        raise InputDataError(f"bulk_inferrer: no rows to score in {describe_files(files)}")
    plan = _plan(scorer, sample.records, p)
    ctx.progress(
        f"scoring {describe_files(files)} with {model.name}: batches of {plan.describe()}"
        + (f", on Beam ({' '.join(p.beam_args)})" if p.beam_args else "")
    )
    writer = ShardWriter(out, p.output_format, p.rows_per_shard)
    start = time.perf_counter()
    if p.beam_args:  # Beam (and tfx-bsl) are imported only for this
        from tfpipe.components.bulk_inferrer.beam_pass import score_on_beam

        written, task = score_on_beam(p, rows, model, writer, plan.batch_size, kinds or {})
    else:
        written, task = _score_here(ctx, rows, scorer, writer, plan.batch_size, kinds or {})
    seconds = time.perf_counter() - start
    total = sum(n for _, n in written)
    if total == 0:
        raise InputDataError(f"bulk_inferrer: no rows to score in {describe_files(files)}")
    relative = [out.relative(path) for path, _ in written]
    columns = list(p.passthrough) + _prediction_names(scorer, sample.records, task)
    out.write_info(
        {
            "model": model.uri,
            "model_version": model.version,
            "model_info": model.info,
            "inputs": sources,
            "files": [{"path": r, "rows": n} for r, (_, n) in zip(relative, written, strict=True)],
            "columns": columns,
            "batch_plan": plan.as_dict(),
        }
    )
    ctx.progress(f"scored {total:,} rows in {seconds:.1f}s → {len(written)} file(s)")
    return {
        "rows": total,
        "rows_per_second": round(total / seconds) if seconds else None,
        "scoring_seconds": round(seconds, 3),
        "model": model.uri,
        "model_version": model.version,
        "task": task,
        "uri": out.uri,
        "format": p.output_format,
        "shards": len(written),
        "files": relative[:LISTED_FILES],
        "inputs": len(sources),
        "data": sources[:LISTED_FILES],
        "columns": columns,
        "batch_size": plan.batch_size,
        "batch_plan": plan.as_dict(),
        "runner": "beam" if p.beam_args else "in-process",
    }


def _plan(scorer: Scorer, records: list[bytes], p: BulkInferrerParams) -> BatchPlan:
    """The batch size from the memory budget and the model's cost per row, measured on the first
    rows; the rows that wait between the threads (records read ahead, tables not yet written) are
    counted too."""
    record_bytes = sum(len(r) for r in records) / len(records)

    def work(batch: list[bytes]) -> Any:
        return scorer.columns(scorer(batch))

    return plan_batches(
        work,
        records,
        budget_mb=p.memory_budget_mb,
        batch_size=p.batch_size,
        extra_per_row=int(4 * record_bytes + 8 * (len(p.passthrough) + 8)),
    )


def _prediction_names(scorer: Scorer, records: list[bytes], task: str) -> list[str]:
    return list(scorer.columns(scorer(records[:1])))


def _score_here(
    ctx: Context,
    rows: Rows,
    scorer: Scorer,
    writer: ShardWriter,
    batch_size: int,
    kinds: dict[str, str],
) -> tuple[list[tuple[str, int]], str]:
    """Read and encode on one thread, score on this one, write on a third."""
    done, next_report, task = 0, PROGRESS_EVERY, ""
    read = prefetched(rows.batches(batch_size))
    with Background(writer.write) as sink, _closing(read) as batches:
        for batch in batches:
            outputs = scorer(batch.records)
            task = task or scorer.task(outputs)
            passthrough = (
                batch.passthrough
                if batch.passthrough is not None
                else passthrough_from_examples(batch.records, kinds)
            )
            table = pa.table(
                {
                    **{name: passthrough.column(name) for name in passthrough.column_names},
                    **scorer.columns(outputs),
                }
            )
            sink.put(batch.file_index, table)
            done += batch.rows
            if done >= next_report:
                ctx.progress(f"{done:,} rows scored")
                next_report += PROGRESS_EVERY
    return writer.close(), task


@contextlib.contextmanager
def _closing(generator: Iterator[Any]) -> Iterator[Iterator[Any]]:
    try:
        yield generator
    finally:
        close = getattr(generator, "close", None)
        if close:
            close()
