"""Backend dispatch shared by the in-process path and cluster tasks."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from components.core.artifacts import Artifact
from components.trainer.data import describe_features, transform_output
from components.trainer.decision import Decision
from components.trainer.export import export_keras, label_names
from components.trainer.params import TrainerParams


def hyperparameters(p: TrainerParams, num_classes: int) -> dict[str, Any]:
    hparams = {**p.hyperparameters}
    if p.task == "classification":
        hparams.setdefault("num_classes", num_classes)
    return hparams


def train(
    p: TrainerParams,
    decision: Decision,
    transform: Artifact,
    work_dir: str,
    progress: Callable[[str], None],
    keep_model: list[Any] | None = None,
) -> dict[str, Any]:
    features, num_classes = describe_features(transform_output(transform), p.label)
    if decision.backend == "keras":
        from components.trainer.keras_backend import train_keras

        model, stats = train_keras(
            p, decision, transform, features, hyperparameters(p, num_classes), work_dir, progress
        )
        if keep_model is not None:
            keep_model.append(model)
        return stats
    from components.trainer.estimator_backend import train_estimator

    classes = label_names(transform, p.label_vocabulary) if p.task == "classification" else None
    return train_estimator(
        p, decision, transform, features, num_classes, classes, work_dir, progress
    )


def export(
    p: TrainerParams,
    decision: Decision,
    transform: Artifact,
    work_dir: str,
    export_dir: str,
    model: Any = None,
) -> list[str]:
    """Write the serving SavedModel; return the feature names it feeds the model."""
    features, num_classes = describe_features(transform_output(transform), p.label)
    classes = label_names(transform, p.label_vocabulary) if p.task == "classification" else None
    names = [f.name for f in features]
    tf_config = os.environ.pop("TF_CONFIG", None)  # export is a local, single-process job
    try:
        if decision.backend == "keras":
            from components.trainer.keras_backend import rebuild_trained_model

            if model is None:
                model = rebuild_trained_model(
                    p, features, hyperparameters(p, num_classes), work_dir
                )
            export_keras(model, transform, names, p.task, classes, export_dir, p.raw_label)
        else:
            from components.trainer.estimator_backend import export_estimator

            export_estimator(
                p, decision, transform, features, num_classes, classes, work_dir, export_dir
            )
    finally:
        if tf_config is not None:
            os.environ["TF_CONFIG"] = tf_config
    return names
