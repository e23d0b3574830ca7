"""Bulk Inferrer: scores the rows of a data drop (CSV, Parquet or TFRecord files, local or s3://)
or of an Examples artifact through a blessed model's ``serving_default`` (this run's, or a served
version), into sharded Parquet, CSV or TFRecord files: passthrough columns, then predictions."""

from typing import Any

from tfpipe.components.artifacts import InferenceResult
from tfpipe.components.bulk_inferrer.params import BulkInferrerParams
from tfpipe.components.core.spec import ComponentSpec


def summary_line(summary: dict[str, Any]) -> str:
    rate = summary.get("rows_per_second")
    model = (
        f"version {summary['model_version']}"
        if summary.get("model_version") is not None
        else "this run's model"
    )
    return (
        f"scored {summary.get('rows', 0):,} rows with {model}"
        + (f" at {rate:,} rows/s" if rate else "")
        + f" → {summary.get('shards')} {summary.get('format')} file(s); batches of "
        f"{summary.get('batch_size', 0):,} rows"
    )


def announce(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The predictions asset event: where the files are and which model made them."""
    return {
        "uri": summary.get("uri"),
        "files": summary.get("files"),
        "shards": summary.get("shards"),
        "format": summary.get("format"),
        "rows": summary.get("rows"),
        "model_version": summary.get("model_version"),
        "model": summary.get("model"),
        "data": summary.get("data"),
    }


SPEC = ComponentSpec(
    name="bulk_inferrer",
    artifact_type=InferenceResult,
    params=BulkInferrerParams,
    entry_point="tfpipe.components.bulk_inferrer.run:run",
    resolve="tfpipe.components.bulk_inferrer.resolve:resolve",
    optional_inputs=("examples", "model", "evaluation"),
    description=__doc__ or "",
    summary_line=summary_line,
    report_section="tfpipe.components.bulk_inferrer.report:report",
    outlet="predictions",
    announce=announce,
    in_run_note=True,
)
