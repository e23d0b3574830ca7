"""One training job, described once: parameters, decision, cluster, inputs and what the transformed
schema implies (features, classes). Every backend and every cluster task works from a job."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from tfpipe.components.artifacts import TransformGraph
from tfpipe.components.trainer.cluster_config import ClusterConfig
from tfpipe.components.trainer.decision import Decision, decide
from tfpipe.components.trainer.params import TrainerParams


@dataclass(frozen=True)
class TrainingJob:
    p: TrainerParams
    runtime: str
    decision: Decision
    transform: TransformGraph
    work_dir: str
    cluster: ClusterConfig
    # The served SavedModel (a pinned local copy) whose weights initialise the model: set once
    # the warm start was found compatible (see ``warm_start``); None: a cold start.
    warm_start_from: str | None = None

    @classmethod
    def create(
        cls,
        p: TrainerParams,
        runtime: str,
        transform: TransformGraph,
        work_dir: str,
        cluster: ClusterConfig,
        decision: Decision | None = None,
    ) -> TrainingJob:
        return cls(
            p, runtime, decision or decide(p, runtime, cluster), transform, work_dir, cluster
        )

    @functools.cached_property
    def schema(self) -> Any:
        """Features, label classes and class names, from the transformed schema (imports TF)."""
        from tfpipe.components.core.errors import InputDataError
        from tfpipe.components.trainer.data import describe_features

        schema = describe_features(self.transform, self.p)
        if self.p.task == "classification" and schema.classes and len(schema.classes) < 2:
            raise InputDataError(
                f"trainer: the training data has one class only ({schema.classes}) for label "
                f"'{self.p.label}'; a classifier needs at least two. Train on data with more "
                "classes"
            )
        return schema

    @property
    def features(self) -> list[Any]:
        return self.schema.features

    @property
    def num_classes(self) -> int:
        """Classes of the label: ``trainer.num_classes``, else its vocabulary or integer domain
        (0 when neither says, e.g. a 0/1 label computed in preprocessing_fn)."""
        return self.p.num_classes or self.schema.num_classes

    @property
    def classes(self) -> list[str] | None:
        return self.schema.classes

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def class_names(self, output_width: int | None) -> list[str] | None:
        """What each column of the served ``probabilities`` means: the label vocabulary, else
        class ids as text; a one-unit (sigmoid) output serves two columns, ``0`` and ``1``."""
        if self.p.task != "classification":
            return None
        if self.classes:
            return self.classes
        count = self.num_classes or (2 if output_width in (None, 1) else output_width)
        return [str(i) for i in range(count)]

    @property
    def hparams(self) -> dict[str, Any]:
        """The user's hyperparameters, plus ``num_classes`` for classifiers."""
        hparams = {**self.p.hyperparameters}
        if self.p.task == "classification":
            hparams.setdefault("num_classes", self.num_classes or 2)
        return hparams

    def to_request(self) -> dict[str, Any]:
        """What a cluster task needs to rebuild this job in its own process."""
        return {
            "params": self.p.model_dump(mode="json"),
            "runtime": self.runtime,
            "decision": self.decision.as_dict(),
            "transform_uri": self.transform.uri,
            "work_dir": self.work_dir,
            "warm_start_from": self.warm_start_from,
        }

    @classmethod
    def from_request(cls, request: dict[str, Any], cluster: ClusterConfig) -> TrainingJob:
        from tfpipe.components.artifacts import open_artifact

        return cls(
            TrainerParams.model_validate(request["params"]),
            request["runtime"],
            Decision(**request["decision"]),
            open_artifact(request["transform_uri"], TransformGraph),
            request["work_dir"],
            cluster,
            request.get("warm_start_from"),
        )
