"""Which backend trains, where, and why: the trainer's selection logic (no TensorFlow).

The decision and its reason are logged and written into the model artifact's manifest, so anyone
reading a model can tell how it was trained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tfpipe.components.core.runtime import RUNTIMES
from tfpipe.components.trainer.cluster_config import ClusterConfig
from tfpipe.components.trainer.params import TrainerParams

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

    @property
    def local_cluster(self) -> bool:
        """This process launches the cluster's tasks itself (on 127.0.0.1)."""
        return bool(self.cluster)

    def undistributed(self) -> Decision:
        """The same model, built for one process (export, an evaluator task)."""
        return Decision(self.backend, self.converted, "none", self.reason)


def decide(p: TrainerParams, runtime: str, cluster: ClusterConfig) -> Decision:
    distribution = p.distribution
    reason_source = f"distribution={distribution}"
    if cluster.is_cluster:
        distribution = "parameter_server" if cluster.cluster.get("ps") else "multi_worker"
        reason_source = f"TF_CONFIG names a cluster {cluster.roles}"
    distributed = distribution in DISTRIBUTED
    has_estimators = RUNTIMES[runtime].has_estimators

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
        instead = " instead of parameter servers" if distribution == "parameter_server" else ""
        reason = (
            f"auto: {reason_source} requires distributed execution; runtime '{runtime}' has no "
            f"Estimators, so Keras trains under MultiWorkerMirroredStrategy{instead}"
        )
        distribution = "multi_worker"

    roles: dict[str, int] = {}
    if distributed and not cluster.is_cluster:
        roles = {"chief": 1}
        if p.num_workers > 1:
            roles["worker"] = p.num_workers - 1
        if distribution == "parameter_server":
            roles["ps"] = p.num_ps
    return Decision(backend, converted, distribution, reason, roles, cluster.is_cluster)
