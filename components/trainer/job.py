"""One training job, described once: parameters, decision, inputs and what the schema implies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.core.artifacts import Artifact
from components.trainer.data import FeatureInfo, describe_features, transform_output
from components.trainer.decision import Decision
from components.trainer.export import label_names
from components.trainer.params import TrainerParams


@dataclass(frozen=True)
class TrainingJob:
    p: TrainerParams
    decision: Decision
    transform: Artifact
    work_dir: str
    features: list[FeatureInfo]
    num_classes: int
    classes: list[str] | None

    @property
    def hparams(self) -> dict[str, Any]:
        """The user's hyperparameters, plus ``num_classes`` for classifiers."""
        hparams = {**self.p.hyperparameters}
        if self.p.task == "classification":
            hparams.setdefault("num_classes", self.num_classes)
        return hparams

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]


def prepare(
    p: TrainerParams, decision: Decision, transform: Artifact, work_dir: str
) -> TrainingJob:
    features, num_classes = describe_features(transform_output(transform), p.label)
    classes = label_names(transform, p.label_vocabulary) if p.task == "classification" else None
    return TrainingJob(p, decision, transform, work_dir, features, num_classes, classes)
