"""Transform: the user's preprocessing_fn analysed and applied by tf.Transform on Apache Beam."""

from typing import Any

from tfpipe.components.artifacts import TransformGraph
from tfpipe.components.core.spec import ComponentSpec
from tfpipe.components.transform.params import TransformParams


def summary_line(summary: dict[str, Any]) -> str:
    rate = summary.get("rows_per_second")
    analysis = summary.get("analysis") or {}
    reused = (
        f", analysed {analysis['analysed']} of {analysis['drops']} drops "
        f"({analysis['reused']} from the analyzer cache)"
        if analysis.get("reused")
        else ""
    )
    return (
        f"{len(summary.get('transformed_features', []))} transformed features"
        + (f", {rate:,.0f} rows/s" if rate else "")
        + reused
    )


SPEC = ComponentSpec(
    name="transform",
    artifact_type=TransformGraph,
    params=TransformParams,
    entry_point="tfpipe.components.transform.run:run",
    resolve="tfpipe.components.transform.resolve:resolve",
    inputs=("examples",),
    description=__doc__ or "",
    summary_line=summary_line,
)
