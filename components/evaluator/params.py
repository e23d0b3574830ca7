"""Evaluator parameters: what to score, how to slice it, and the gates that decide a blessing."""

from __future__ import annotations

import os

import pydantic

from components.core.fingerprint import digest, file_digest
from components.core.serving import latest_version, served_fingerprint
from components.core.spec import ComponentParams

CLASSIFICATION_METRICS = ("accuracy", "log_loss", "example_count")
REGRESSION_METRICS = ("mae", "rmse", "r2", "example_count")
LOWER_IS_BETTER = ("log_loss", "mae", "rmse")


class Bound(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    lower: float | None = None
    upper: float | None = None

    @pydantic.model_validator(mode="after")
    def _some_bound(self) -> Bound:
        if self.lower is None and self.upper is None:
            raise ValueError("a threshold needs 'lower' and/or 'upper'")
        return self


class Change(pydantic.BaseModel):
    """How much worse than the baseline a metric may get (in the metric's units)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)
    max_worsening: float = pydantic.Field(default=0.0, ge=0)


def _check_names(names: list[str] | dict) -> None:
    known = set(CLASSIFICATION_METRICS) | set(REGRESSION_METRICS)
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {sorted(known)}")


class EvaluatorParams(ComponentParams):
    label: str = pydantic.Field(description="the raw label column (as ExampleGen read it)")
    split: str = "eval"
    slice_by: list[str] = pydantic.Field(
        default_factory=list, description="raw columns whose values slice the metrics"
    )
    thresholds: dict[str, Bound] = pydantic.Field(
        default_factory=dict, description='metric -> {"lower": x} and/or {"upper": y}'
    )
    baseline_model_dir: str | None = pydantic.Field(
        default=None,
        description="a TF Serving model directory (<serving_base>/<name>); its newest version is "
        "the baseline the candidate is compared with on the same data",
    )
    change_thresholds: dict[str, Change] = pydantic.Field(
        default_factory=dict,
        description='metric -> {"max_worsening": d}: how much worse than the baseline is allowed',
    )
    batch_size: int = pydantic.Field(default=1024, gt=0)

    @pydantic.field_validator("thresholds", "change_thresholds")
    @classmethod
    def _known_metrics(cls, value: dict) -> dict:
        _check_names(value)
        return value

    def baseline(self, candidate_fingerprint: str | None = None) -> str | None:
        """The newest pushed version, unless it *is* the candidate (comparing a model with
        itself says nothing, and would make every re-run of a pushed model re-evaluate)."""
        version = latest_version(self.baseline_model_dir) if self.baseline_model_dir else None
        if (
            version
            and candidate_fingerprint
            and (served_fingerprint(version) == candidate_fingerprint)
        ):
            return None
        return version

    def external_fingerprints(self, inputs: dict[str, str]) -> dict[str, str]:
        """The baseline is whatever is pushed now: a new push makes a new evaluation."""
        baseline = self.baseline(inputs.get("model"))
        if baseline is None:
            return {"baseline": "none"}
        identity = served_fingerprint(baseline)
        if identity is None:  # pushed by something else: identify it by its graph
            pb = os.path.join(baseline, "saved_model.pb")
            identity = file_digest(pb) if os.path.exists(pb) else "missing"
        return {"baseline": digest([baseline, identity])}
