"""ExampleValidator parameters: which anomalies may pass, and the drift that is reported."""

from __future__ import annotations

import pydantic

from tfpipe.components.core.spec import ComponentParams


class ExampleValidatorParams(ComponentParams):
    BASELINE_FIELDS = ("baseline_model_dir",)
    allow: list[str] = pydantic.Field(
        default_factory=list,
        description="anomalies that do not stop the run: a kind (missing_column, new_column, "
        "type_changed, type_narrowed, empty_column, presence_below, out_of_domain, "
        "out_of_range), a column, or column:kind",
    )
    baseline_model_dir: str | None = pydantic.Field(
        default=None,
        description="a TF Serving model directory: the data its newest version was trained on is "
        "what drift is measured against",
    )
    drift_threshold: float | None = pydantic.Field(
        default=None,
        gt=0,
        le=1,
        description="stop the run when a column's L-infinity drift exceeds this (default: drift "
        "is reported, never blocking)",
    )
