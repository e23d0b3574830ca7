"""TF_CONFIG, parsed once: which cluster this process belongs to and which task it is.

Every other part of the trainer asks a :class:`ClusterConfig` instead of reading the environment.
No TensorFlow here: the planner uses it to put the cluster into the fingerprint.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from tfpipe.components.core.errors import ParameterError
from tfpipe.components.core.fingerprint import digest


def jobset_tf_config(env: Any) -> str | None:
    """TF_CONFIG for a pod of a Kubernetes JobSet (what Kubeflow Trainer v2 runs; it sets no
    TF_CONFIG itself), from ``TFPIPE_CLUSTER_ROLES`` (e.g. ``chief=1,worker=2``, from the
    manifest), ``TFPIPE_CLUSTER_PORT``, and the pod's ``JOBSET_NAME``, ``REPLICATED_JOB_NAME`` and
    ``JOB_INDEX`` (its JobSet labels): task ``i`` of role ``r`` is reachable at JobSet's stable
    host name ``<jobset>-<r>-<i>-0.<jobset>``. See infra/k8s/trainjob.yaml."""
    roles = env.get("TFPIPE_CLUSTER_ROLES")
    if not roles:
        return None
    try:
        counts = {r.strip(): int(n) for r, n in (part.split("=") for part in roles.split(","))}
        name, port = env["JOBSET_NAME"], int(env.get("TFPIPE_CLUSTER_PORT", "2222"))
        task = {"type": env["REPLICATED_JOB_NAME"], "index": int(env.get("JOB_INDEX", "0"))}
    except (KeyError, ValueError) as exc:
        raise ParameterError(
            f"TFPIPE_CLUSTER_ROLES={roles!r} needs JOBSET_NAME, REPLICATED_JOB_NAME and JOB_INDEX "
            f"from the pod's JobSet labels, roles as role=count ({type(exc).__name__}: {exc})"
        ) from None
    cluster = {
        role: [f"{name}-{role}-{i}-0.{name}:{port}" for i in range(count)]
        for role, count in counts.items()
    }
    return json.dumps({"cluster": cluster, "task": task})


@dataclass(frozen=True)
class ClusterConfig:
    cluster: dict[str, list[str]] = field(default_factory=dict)
    task_type: str | None = None
    task_index: int = 0
    raw: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ClusterConfig:
        env = environ if environ is not None else os.environ
        raw = env.get("TF_CONFIG") or jobset_tf_config(env)
        if not raw:
            return cls()
        try:
            config: dict[str, Any] = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ParameterError(f"TF_CONFIG is not valid JSON ({exc}): {raw[:200]!r}") from None
        task = config.get("task") or {}
        return cls(
            cluster={k: list(v) for k, v in (config.get("cluster") or {}).items()},
            task_type=task.get("type"),
            task_index=int(task.get("index", 0)),
            raw=raw,
        )

    @property
    def is_cluster(self) -> bool:
        """TF_CONFIG names a cluster of more than one task."""
        return sum(len(v) for v in self.cluster.values()) > 1

    @property
    def is_chief(self) -> bool:
        """The task that commits the model: the chief, or worker 0 of a chief-less cluster, or a
        process with no cluster at all."""
        if not self.is_cluster or self.task_type in (None, "chief"):
            return True
        return self.task_type == "worker" and self.task_index == 0 and "chief" not in self.cluster

    @property
    def task_name(self) -> str:
        return f"{self.task_type}:{self.task_index}" if self.task_type else "local"

    @property
    def roles(self) -> list[str]:
        return sorted(self.cluster)

    def identity(self) -> str:
        """The same for every task of one cluster (its layout, not which task this is)."""
        return digest({role: len(addresses) for role, addresses in sorted(self.cluster.items())})
