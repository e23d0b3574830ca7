"""Evaluator parameters: what to score, how to slice it, and the gates that decide a blessing."""

from __future__ import annotations

from typing import Any, Literal

import pydantic

from tfpipe.components.artifacts import ServingDirectory
from tfpipe.components.core.batching import DEFAULT_BUDGET_MB
from tfpipe.components.core.errors import ParameterError
from tfpipe.components.core.fingerprint import digest
from tfpipe.components.core.spec import ComponentParams, External

CLASSIFICATION_METRICS = (
    "accuracy",
    "log_loss",
    "auc",
    "pr_auc",
    "precision",
    "recall",
    "f1",
    "weighted_precision",
    "weighted_recall",
    "weighted_f1",
    "example_count",
)
REGRESSION_METRICS = (
    "mae",
    "rmse",
    "r2",
    "mean_prediction",
    "mean_label",
    "calibration",
    "example_count",
)
METRICS = {"classification": CLASSIFICATION_METRICS, "regression": REGRESSION_METRICS}
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


class EvaluatorParams(ComponentParams):
    label: str | None = pydantic.Field(
        default=None,
        description="the raw label column (as ExampleGen read it); unset: the model's own label "
        "(the transformed feature it was trained on, e.g. one preprocessing_fn derives), "
        "computed from the raw examples by the transform graph inside the exported model",
    )
    task: Literal["classification", "regression"] | None = pydantic.Field(
        default=None,
        description="checked against the gated metrics before anything runs; unset: the task "
        "of the trainer that feeds this step",
    )
    threshold: float = pydantic.Field(
        default=0.5, gt=0, lt=1, description="decision threshold of a binary classifier"
    )
    max_slice_values: int = pydantic.Field(
        default=50, gt=0, description="values per slice column measured; later ones: '(other)'"
    )
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
    batch_size: int | None = pydantic.Field(
        default=None,
        gt=0,
        description="raw examples per batch through the serving signature; unset: as many as "
        "memory_budget_mb holds at the models' measured cost per row",
    )
    memory_budget_mb: int = pydantic.Field(
        default=DEFAULT_BUDGET_MB,
        gt=0,
        description="memory for the examples in flight (every model scored on a batch counts)",
    )

    @pydantic.field_validator("thresholds", "change_thresholds")
    @classmethod
    def _known_metrics(cls, value: dict) -> dict:
        known = sorted(set(CLASSIFICATION_METRICS) | set(REGRESSION_METRICS))
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(known)}")
        return value

    def check_metrics(self, task: str, where: str) -> None:
        """Refuse gates on metrics the task does not produce, naming them and what is there."""
        available = METRICS[task]
        for field in ("thresholds", "change_thresholds"):
            unknown = sorted(set(getattr(self, field)) - set(available))
            if unknown:
                raise ParameterError(
                    f"evaluator.{field} names metric(s) {unknown}, which a {task} model does not "
                    f"produce ({where}); available: {', '.join(available)}"
                )

    def check_upstream(self, upstream: dict[str, tuple[str, dict[str, Any]]]) -> None:
        component, params = upstream.get("model", ("", {}))
        task = self.task or (
            params.get("task", "classification") if component == "trainer" else None
        )
        if task:
            self.check_metrics(
                task,
                f"the {task} task of step '{component}'" if not self.task else "evaluator.task",
            )

    def serving_directory(self) -> ServingDirectory | None:
        return ServingDirectory.at(self.baseline_model_dir)

    def resolve_external(
        self, inputs: dict[str, str], frozen: dict[str, Any] | None = None
    ) -> External:
        """The baseline is the version served *now*, frozen for the run: a new push makes a new
        evaluation, and the Pusher publishes only over the version evaluated against."""
        serving = self.serving_directory()
        if serving is None:
            return External(values={"latest_version": None}, digests={"baseline": "none"})
        if frozen is not None and "latest_version" in frozen:
            latest, baseline = frozen["latest_version"], frozen.get("baseline_version")
        else:
            latest = serving.latest()
            # The newest version that is not the candidate itself: comparing a model with itself
            # says nothing, and a re-run after this model was pushed must find the same baseline
            # it was evaluated against (so the evaluation stays cached).
            baseline = next(
                (
                    v
                    for v in reversed(serving.versions())
                    if serving.identity(v) != inputs.get("model")
                ),
                None,
            )
        values = {"latest_version": latest, "baseline_version": baseline}
        if baseline is None:
            return External(values=values, digests={"baseline": "none"})
        identity = serving.identity(baseline)
        return External(
            values=values, digests={"baseline": digest([serving.model_dir, baseline, identity])}
        )
