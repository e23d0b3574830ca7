"""Transform: the user's preprocessing_fn analysed and applied by tf.Transform on Apache Beam."""

from typing import Any

from tfpipe.components.artifacts import TransformGraph
from tfpipe.components.core.spec import ComponentSpec
from tfpipe.components.transform.params import TransformParams


def summary_line(summary: dict[str, Any]) -> str:
    rate = summary.get("rows_per_second")
    return f"{len(summary.get('transformed_features', []))} transformed features" + (
        f", {rate:,.0f} rows/s" if rate else ""
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
