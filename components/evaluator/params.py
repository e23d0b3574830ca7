"""Evaluator parameters: which split and label to score, and the thresholds that gate a blessing."""

from __future__ import annotations

import pydantic

from components.core.spec import ComponentParams

CLASSIFICATION_METRICS = ("accuracy", "log_loss", "example_count")
REGRESSION_METRICS = ("mae", "rmse", "r2", "example_count")


class Bound(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    lower: float | None = None
    upper: float | None = None

    @pydantic.model_validator(mode="after")
    def _some_bound(self) -> Bound:
        if self.lower is None and self.upper is None:
            raise ValueError("a threshold needs 'lower' and/or 'upper'")
        return self


class EvaluatorParams(ComponentParams):
    label: str = pydantic.Field(description="the raw label column (as ExampleGen read it)")
    split: str = "eval"
    thresholds: dict[str, Bound] = pydantic.Field(
        default_factory=dict, description='metric -> {"lower": x} and/or {"upper": y}'
    )
    batch_size: int = pydantic.Field(default=1024, gt=0)

    @pydantic.field_validator("thresholds")
    @classmethod
    def _known_metrics(cls, thresholds: dict[str, Bound]) -> dict[str, Bound]:
        known = set(CLASSIFICATION_METRICS) | set(REGRESSION_METRICS)
        unknown = sorted(set(thresholds) - known)
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; known: {sorted(known)}")
        return thresholds
