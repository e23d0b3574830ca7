"""The backend that trains a job, chosen by its decision (imports TensorFlow)."""

from __future__ import annotations

from typing import Any

from tfpipe.components.trainer.job import TrainingJob


def backend_for(job: TrainingJob) -> Any:
    if job.decision.backend == "keras":
        from tfpipe.components.trainer.keras_backend import KerasBackend

        return KerasBackend(job)
    from tfpipe.components.trainer.estimator_backend import EstimatorBackend

    return EstimatorBackend(job)
