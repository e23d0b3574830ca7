"""ExampleValidator parameters: which anomalies may pass, and the drift that is reported."""

from __future__ import annotations

from typing import Any

import pydantic

from tfpipe.components.artifacts import ServingDirectory
from tfpipe.components.core.fingerprint import digest
from tfpipe.components.core.spec import ComponentParams, External


class ExampleValidatorParams(ComponentParams):
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

    def serving_directory(self) -> ServingDirectory | None:
        return ServingDirectory.at(self.baseline_model_dir)

    def resolve_external(
        self, inputs: dict[str, str], frozen: dict[str, Any] | None = None
    ) -> External:
        """The served model's training data, whose statistics drift is measured against: the
        newest version trained on other data than these examples (after this data's own model
        is pushed, a re-run still compares with the data before it, and stays cached)."""
        serving = self.serving_directory()
        version = (frozen or {}).get("served_version") if frozen else None
        if frozen is None and serving is not None:
            version = next(
                (
                    v
                    for v in reversed(serving.versions())
                    if ((serving.card(v) or {}).get("data") or {}).get("examples_fingerprint")
                    != inputs.get("examples")
                ),
                None,
            )
        card = serving.card(version) if serving is not None and version is not None else None
        examples = (card or {}).get("data", {}).get("examples_uri")
        return External(
            values={"served_version": version, "baseline_examples": examples},
            digests={"baseline_examples": digest(examples)},
        )
