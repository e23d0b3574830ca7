"""Trainer parameters: what to train (user model builder), how (backend, distribution), how long."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pydantic

from tfpipe.components.core.errors import ParameterError
from tfpipe.components.core.spec import ComponentParams

DEFAULT_CHECKPOINT_INTERVAL = 100


class TrainerParams(ComponentParams):
    LABEL_FIELDS: ClassVar[dict[str, str]] = {
        "label": "feature",
        "raw_label": "column",
        "label_vocabulary": "vocabulary",
    }
    COLUMN_FIELDS = ("raw_label",)
    BASELINE_FIELDS = ("served_model_dir",)
    # Filled with the pipeline's serving directory whether or not a warm start reads it: where
    # it is says nothing of the model (resolve digests the served version a warm start uses).
    FINGERPRINT_EXEMPT = frozenset({"served_model_dir"})

    module_file: str = pydantic.Field(description="the user module defining the model builder")
    model_fn: str = pydantic.Field(
        default="build_keras_model",
        description="build_keras_model(features, hparams) -> compiled tf.keras model",
    )
    label: str = pydantic.Field(default="label", description="the transformed label feature")
    task: Literal["classification", "regression"] = "classification"
    num_classes: int | None = pydantic.Field(
        default=None,
        ge=2,
        description="label classes, when the transformed label has no vocabulary or integer "
        "domain to tell (default: from the label, else the model's output width)",
    )
    label_vocabulary: str | None = pydantic.Field(
        default=None,
        description="tf.Transform vocabulary of the label; served predictions then name classes",
    )
    raw_label: str | None = pydantic.Field(
        default=None,
        description="the raw label column: left out of the named-raw-features serving signature",
    )
    backend: Literal["keras", "estimator", "auto"] = pydantic.Field(
        default="keras",
        description="keras: model.fit; estimator: a pre-made or custom Estimator; auto: the Keras "
        "model, converted to an Estimator when training is distributed on the estimator runtime",
    )
    distribution: Literal["none", "mirrored", "multi_worker", "parameter_server"] = "none"
    estimator: str | None = pydantic.Field(
        default=None,
        description="with backend=estimator: a pre-made Estimator name (DNNClassifier, "
        "LinearRegressor, DNNLinearCombinedClassifier, BoostedTreesClassifier, …) or 'custom' "
        "for the module's model_fn",
    )
    estimator_model_fn: str = pydantic.Field(
        default="model_fn", description="the custom Estimator model_fn in module_file"
    )
    num_workers: int = pydantic.Field(
        default=2, ge=1, description="training processes (chief included) of a local cluster"
    )
    num_ps: int = pydantic.Field(default=1, ge=1, description="ps tasks for parameter_server")
    train_steps: int = pydantic.Field(default=1000, gt=0)
    steps_per_epoch: int | None = pydantic.Field(
        default=None,
        gt=0,
        description=f"checkpoint interval (default {DEFAULT_CHECKPOINT_INTERVAL}, or train_steps "
        "when smaller); a run_fn module checkpoints as it likes",
    )
    batch_size: int = pydantic.Field(default=32, gt=0)
    eval_steps: int = pydantic.Field(
        default=50,
        gt=0,
        description="eval batches scored at each checkpoint (bounded, so training time does not "
        "grow with the eval split; the Evaluator scores the whole split)",
    )
    cluster_timeout_seconds: float = pydantic.Field(
        default=3600, gt=0, description="a local training cluster that runs longer is stopped"
    )
    hyperparameters: dict[str, Any] = pydantic.Field(default_factory=dict)
    custom_config: dict[str, Any] = pydantic.Field(
        default_factory=dict, description="passed to a run_fn module as fn_args.custom_config"
    )
    warm_start: Literal["none", "served"] = pydantic.Field(
        default="none",
        description="served: start from the model served now (the newest version in "
        "served_model_dir): tfpipe's Keras and Estimator backends load its weights when it was "
        "trained on the same transformed features, classes and layer shapes (else a cold start, "
        "the reason in the model's summary); a run_fn module gets it as fn_args.base_model",
    )
    served_model_dir: str | None = pydantic.Field(
        default=None,
        description="the TF Serving model directory (<serving_base>/<name>) warm_start reads; "
        "unset: the directory the pipeline's pusher publishes to",
    )
    seed: int = 42

    @pydantic.model_validator(mode="after")
    def _estimator_named(self) -> TrainerParams:
        if self.backend == "estimator" and not self.estimator:
            raise ValueError(
                "backend=estimator needs 'estimator': a pre-made name such as DNNClassifier, "
                "or 'custom' with a model_fn in module_file"
            )
        if self.steps_per_epoch is not None:
            self.check_checkpoint_interval(ValueError)
        if self.warm_start == "served" and not self.served_model_dir:
            raise ValueError(
                "warm_start=served needs served_model_dir: <serving_base>/<name> (unset, it is "
                "where the pipeline's pusher publishes; this pipeline has no pusher)"
            )
        if self.backend == "keras" and self.distribution == "parameter_server":
            raise ValueError(
                "backend=keras does not train with parameter servers here; use backend=auto "
                "or estimator on the estimator runtime, or distribution=multi_worker"
            )
        return self

    @property
    def checkpoint_every(self) -> int:
        return min(self.steps_per_epoch or DEFAULT_CHECKPOINT_INTERVAL, self.train_steps)

    def check_checkpoint_interval(self, error: type[Exception] = ParameterError) -> None:
        """Training runs whole checkpoint intervals (Keras epochs, Estimator save steps)."""
        every = self.steps_per_epoch or DEFAULT_CHECKPOINT_INTERVAL
        if self.train_steps > every and self.train_steps % every:
            raise error(
                f"train_steps ({self.train_steps}) must be a multiple of steps_per_epoch "
                f"({every}, the checkpoint interval), or at most that; e.g. "
                f"train_steps={self.train_steps // every * every}, or set steps_per_epoch"
            )

    def validate_for_runtime(self, runtime: str) -> None:
        if self.backend == "estimator" and runtime != "estimator":
            raise ParameterError(
                f"trainer.backend=estimator needs the 'estimator' runtime (tf.estimator was "
                f"removed in TensorFlow 2.16), but this pipeline runs on '{runtime}'; set "
                "runtime=estimator, or use backend=keras or auto"
            )
