"""Which backend trains, where, and why: the trainer's selection logic (no TensorFlow).

The decision and its reason are logged and written into the model artifact's manifest, so anyone
reading a model can tell how it was trained.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from components.trainer.params import TrainerParams

DISTRIBUTED = ("multi_worker", "parameter_server")


@dataclass(frozen=True)
class Decision:
    backend: str  # "keras" | "estimator"
    converted: bool  # a Keras model converted with model_to_estimator
    distribution: str  # none | mirrored | multi_worker | parameter_server
    reason: str
    cluster: dict[str, int] = field(default_factory=dict)  # role -> count, for a local cluster
    external_tf_config: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def external_cluster() -> dict[str, Any] | None:
    """The TF_CONFIG this process was started with, when it names a cluster of several tasks."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    config = json.loads(raw)
    tasks = sum(len(v) for v in config.get("cluster", {}).values())
    return config if tasks > 1 else None


def decide(p: TrainerParams, runtime: str, tf_config: dict[str, Any] | None = None) -> Decision:
    distribution = p.distribution
    reason_source = f"distribution={distribution}"
    if tf_config is not None:
        roles = tf_config.get("cluster", {})
        distribution = "parameter_server" if roles.get("ps") else "multi_worker"
        reason_source = f"TF_CONFIG names a cluster {sorted(roles)}"
    distributed = distribution in DISTRIBUTED
    has_estimators = runtime == "estimator"

    if p.backend == "keras" or (p.backend == "auto" and not distributed):
        backend, converted = "keras", False
        reason = (
            "backend=keras"
            if p.backend == "keras"
            else f"auto: {reason_source} needs no cluster, so the Keras model trains with model.fit"
        )
    elif p.backend == "estimator":
        backend, converted = "estimator", False
        reason = f"backend=estimator ({p.estimator})"
    elif has_estimators:
        backend, converted = "estimator", True
        reason = (
            f"auto: {reason_source} requires distributed execution and runtime '{runtime}' has "
            "Estimators, so the Keras model is converted with model_to_estimator and trained "
            "with train_and_evaluate"
        )
    else:
        backend, converted = "keras", False
        if distribution == "parameter_server":
            reason = (
                f"auto: {reason_source} requires distributed execution; runtime '{runtime}' has no "
                "Estimators, so Keras trains under MultiWorkerMirroredStrategy instead of "
                "parameter servers"
            )
            distribution = "multi_worker"
        else:
            reason = (
                f"auto: {reason_source} requires distributed execution; runtime '{runtime}' has no "
                "Estimators, so Keras trains under MultiWorkerMirroredStrategy"
            )

    cluster: dict[str, int] = {}
    if distributed and tf_config is None:
        cluster = {"chief": 1}
        if p.num_workers > 1:
            cluster["worker"] = p.num_workers - 1
        if distribution == "parameter_server":
            cluster["ps"] = p.num_ps
    return Decision(backend, converted, distribution, reason, cluster, tf_config is not None)
