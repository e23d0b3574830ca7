"""What the Trainer reads from outside the store: the user module (and what it imports), the
training cluster this process was started in and, for a warm start, the model served now."""

from __future__ import annotations

from typing import Any

from tfpipe.components.artifacts import ServingDirectory
from tfpipe.components.core.fingerprint import digest
from tfpipe.components.core.spec import External
from tfpipe.components.core.user_code import module_digest
from tfpipe.components.trainer.cluster_config import ClusterConfig
from tfpipe.components.trainer.contract import check_contract, module_contract
from tfpipe.components.trainer.params import TrainerParams


def resolve(
    params: TrainerParams, inputs: dict[str, str], frozen: dict[str, Any] | None = None
) -> External:
    """A TF_CONFIG changes how the model is trained, so it changes the fingerprint; only the
    chief of a cluster commits. The module's contract (``run_fn`` or tfpipe's) is read from its
    source and checked against the parameters; a warm start freezes the served version."""
    cluster = ClusterConfig.from_env()
    digests = {"module_file": module_digest(params.module_file, "trainer")}
    if cluster.is_cluster:
        digests["tf_config_cluster"] = cluster.identity()
    contract = module_contract(params)
    check_contract(params, contract, cluster)
    values: dict[str, Any] = {"contract": contract}
    if params.warm_start == "served":
        values["base_model_version"], digests["base_model"] = _served(params, frozen)
    return External(values=values, digests=digests, commits=cluster.is_chief)


def _served(params: TrainerParams, frozen: dict[str, Any] | None) -> tuple[int | None, str]:
    """The version served now (frozen for the run) and its identity: warm and cold runs, or
    warm starts from different versions, are different artifacts."""
    serving = ServingDirectory.at(params.served_model_dir)
    assert serving is not None  # warm_start=served requires served_model_dir
    if frozen is not None and "base_model_version" in frozen:
        version = frozen["base_model_version"]
    else:
        version = serving.latest()
    if version is None:
        return None, "none"  # nothing served yet: a cold start
    return version, digest([serving.model_dir, version, serving.identity(version)])
