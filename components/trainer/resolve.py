"""What the Trainer reads from outside the store: the user module (and what it imports) and the
training cluster this process was started in."""

from __future__ import annotations

from typing import Any

from tfpipe.components.core.spec import External
from tfpipe.components.core.user_code import module_digest
from tfpipe.components.trainer.cluster_config import ClusterConfig
from tfpipe.components.trainer.params import TrainerParams


def resolve(
    params: TrainerParams, inputs: dict[str, str], frozen: dict[str, Any] | None = None
) -> External:
    """A TF_CONFIG changes how the model is trained, so it changes the fingerprint; only the
    chief of a cluster commits."""
    cluster = ClusterConfig.from_env()
    digests = {"module_file": module_digest(params.module_file, "trainer")}
    if cluster.is_cluster:
        digests["tf_config_cluster"] = cluster.identity()
    return External(digests=digests, commits=cluster.is_chief)
