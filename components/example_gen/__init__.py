"""ExampleGen: CSV / TFRecord / Parquet → hash-split, sharded tf.Example TFRecords, the schema they
were encoded with, and per-split column statistics."""

from typing import Any

from tfpipe.components.artifacts import Examples
from tfpipe.components.core.spec import ComponentSpec
from tfpipe.components.example_gen.params import ExampleGenParams


def summary_line(summary: dict[str, Any]) -> str:
    splits = " ".join(f"{k}={v}" for k, v in summary.get("splits", {}).items())
    rejected = summary.get("rejected_rows")
    drops = summary.get("drops") or {}
    return (
        f"{summary.get('rows')} rows, {summary.get('columns')} columns → {splits}"
        + (
            f"; {drops['count']} drops, {drops['reused']} reused"
            if drops.get("count", 0) > 1
            else ""
        )
        + (f" ({rejected} malformed rows set aside)" if rejected else "")
    )


SPEC = ComponentSpec(
    name="example_gen",
    artifact_type=Examples,
    params=ExampleGenParams,
    entry_point="tfpipe.components.example_gen.run:run",
    resolve="tfpipe.components.example_gen.resolve:resolve",
    description=__doc__ or "",
    summary_line=summary_line,
    report_section="tfpipe.components.example_gen.report:report",
    needs_tensorflow=False,
    data_param="input",
)
