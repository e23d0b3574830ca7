"""Evaluator parameters: what to score, how to slice it, and the gates that decide a blessing."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pydantic

from tfpipe.components import get_spec
from tfpipe.components.core.batching import DEFAULT_BUDGET_MB
from tfpipe.components.core.errors import ParameterError
from tfpipe.components.core.spec import ComponentParams
from tfpipe.components.evaluator.tfx_config import eval_config_params

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
    BASELINE_FIELDS = ("baseline_model_dir",)
    LABEL_FIELDS: ClassVar[dict[str, str]] = {"label": "column"}
    # (the label may also name a transformed feature: checked in check_ancestors)
    COLUMN_FIELDS = ("slice_by",)

    label: str | None = pydantic.Field(
        default=None,
        description="the label: a raw column (as ExampleGen read it), or a transformed feature "
        "(e.g. tips_xf, TFX's label_key habit) computed from the raw examples by the model's "
        "preprocessing function (its transform_features signature); unset: the model's own label",
    )
    prediction_key: str | None = pydantic.Field(
        default=None,
        description="the output of the serving signature to score (e.g. outputs); unset: "
        "tfpipe's probabilities / predictions, else the signature's only output. A one-unit "
        "sigmoid is a binary classifier",
    )
    signature_name: str = pydantic.Field(
        default="serving_default", description="the signature scored (serialized tf.Examples in)"
    )
    preprocessing_function_names: list[str] = pydantic.Field(
        default_factory=list,
        description="signatures of the model a transformed label is read through, the first the "
        "model has (TFMA's field); unset: transform_features, else the model's TransformGraph",
    )
    eval_config: dict[str, Any] | str | None = pydantic.Field(
        default=None,
        description="a TFMA EvalConfig (a dict, or TFMA's text format): model_specs (label_key, "
        "prediction_key, signature_name, preprocessing_function_names), slicing_specs by feature "
        "keys, metrics_specs with metric class names and value / change thresholds; it sets the "
        "parameters of the same meaning (fields tfpipe does not support are refused, named)",
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

    @pydantic.model_validator(mode="after")
    def _from_eval_config(self) -> EvaluatorParams:
        """The parameters the EvalConfig sets, unless set otherwise here (then refused, naming
        both); setting the same value both ways is fine (a validated copy carries both)."""
        if self.eval_config is None:
            return self
        derived = eval_config_params(self.eval_config, LOWER_IS_BETTER)
        for name, value in derived.items():
            field = type(self).model_fields[name]
            typed = pydantic.TypeAdapter(field.annotation).validate_python(value)
            current = getattr(self, name)
            if current not in (typed, field.get_default(call_default_factory=True)):
                raise ValueError(
                    f"eval_config sets {name}={typed!r}, and evaluator.{name} is set to "
                    f"{current!r}; set it in one place"
                )
            object.__setattr__(self, name, typed)
        return self

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

    def check_ancestors(self, summaries: dict[str, dict[str, Any]]) -> None:
        """Once a Transform before this step has committed, its raw columns and transformed
        features are known: a label that is neither, or a slice column that is no raw column,
        cannot work, and the run stops before training."""
        for step, summary in summaries.items():
            raw, transformed = summary.get("raw_features"), summary.get("transformed_features")
            if not isinstance(raw, list) or not isinstance(transformed, list):
                continue
            if self.label is not None and self.label not in raw + transformed:
                raise ParameterError(
                    f"evaluator.label '{self.label}' is neither a raw column {raw} nor a "
                    f"transformed feature {transformed} (of step '{step}'); unset, it is the "
                    "label the model was trained on"
                )

    def check_upstream(self, upstream: dict[str, tuple[str, dict[str, Any]]]) -> None:
        component, params = upstream.get("model", ("", {}))
        # The upstream step's own `task` parameter (or its default), whichever component it is.
        field = get_spec(component).params.model_fields.get("task") if component else None
        task = self.task or (params.get("task", field.default) if field else None)
        if task:
            self.check_metrics(
                task,
                f"the {task} task of step '{component}'" if not self.task else "evaluator.task",
            )
