"""Which contract a trainer's user module follows, decided without importing it.

- ``tfpipe``: ``build_keras_model(features, hparams)`` (or an Estimator): tfpipe trains, under the
  backend and distribution it decides, and exports the serving signatures itself.
- ``run_fn``: TFX's generic trainer contract: the module defines ``run_fn(fn_args)`` and no
  ``build_keras_model``; it builds, trains and saves its own serving SavedModel
  (``tfpipe.components.trainer.tfx_run_fn``).

The parameters that only one contract can honour are refused here, when the step is resolved
(at planning), naming what to change.
"""

from __future__ import annotations

from tfpipe.components.core.errors import ParameterError
from tfpipe.components.core.user_code import top_level_names
from tfpipe.components.trainer.cluster_config import ClusterConfig
from tfpipe.components.trainer.params import TrainerParams

RUN_FN = "run_fn"


def module_contract(p: TrainerParams) -> str:
    """``run_fn`` when the module defines ``run_fn`` and not the model builder ``p.model_fn``
    (and no pre-made/custom Estimator is asked for); else ``tfpipe``."""
    if p.backend == "estimator":
        return "tfpipe"
    names = top_level_names(p.module_file)
    return "run_fn" if RUN_FN in names and p.model_fn not in names else "tfpipe"


def check_contract(p: TrainerParams, contract: str, cluster: ClusterConfig) -> None:
    where = f"module_file {p.module_file}"
    if contract == "tfpipe":
        p.check_checkpoint_interval()
        return
    if p.distribution != "none" or cluster.is_cluster:
        asked = f"distribution={p.distribution}" if p.distribution != "none" else "a TF_CONFIG"
        raise ParameterError(
            f"trainer: {asked} cannot apply to {where}: it defines run_fn(fn_args), which "
            "trains the model itself (TFX's generic trainer), so tfpipe cannot place it on a "
            "training cluster; open a tf.distribute strategy scope inside run_fn (e.g. "
            "MirroredStrategy), or write build_keras_model(features, hparams) to let tfpipe "
            "distribute it; remove trainer.distribution"
        )
    if p.backend != "keras":
        raise ParameterError(
            f"trainer.backend={p.backend} cannot apply to {where}: it defines run_fn(fn_args), "
            "which builds and trains its own model; remove trainer.backend"
        )
