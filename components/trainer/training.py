"""Backend dispatch shared by the in-process path and cluster tasks."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from components.core.artifacts import Artifact
from components.trainer.decision import Decision
from components.trainer.export import export_keras
from components.trainer.job import prepare
from components.trainer.params import TrainerParams


def train(
    p: TrainerParams,
    decision: Decision,
    transform: Artifact,
    work_dir: str,
    progress: Callable[[str], None],
    keep_model: list[Any] | None = None,
) -> dict[str, Any]:
    job = prepare(p, decision, transform, work_dir)
    if decision.backend == "keras":
        from components.trainer.keras_backend import train_keras

        model, stats = train_keras(
            p, decision, transform, job.features, job.hparams, work_dir, progress
        )
        if keep_model is not None:
            keep_model.append(model)
        return stats
    from components.trainer.estimator_backend import train_estimator

    return train_estimator(job, progress)


def export(
    p: TrainerParams,
    decision: Decision,
    transform: Artifact,
    work_dir: str,
    export_dir: str,
    model: Any = None,
) -> list[str]:
    """Write the serving SavedModel; return the feature names it feeds the model."""
    job = prepare(p, decision, transform, work_dir)
    tf_config = os.environ.pop("TF_CONFIG", None)  # export is a local, single-process job
    try:
        if decision.backend == "keras":
            from components.trainer.keras_backend import rebuild_trained_model

            if model is None:
                model = rebuild_trained_model(p, job.features, job.hparams, work_dir)
            export_keras(
                model, transform, job.feature_names, p.task, job.classes, export_dir, p.raw_label
            )
        else:
            from components.trainer.estimator_backend import export_estimator

            export_estimator(job, export_dir)
    finally:
        if tf_config is not None:
            os.environ["TF_CONFIG"] = tf_config
    return job.feature_names
