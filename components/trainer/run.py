"""Trainer entry point, a straight line: decide → train (in process or on a local cluster) →
export the serving contract → record what was trained and how. A module that defines TFX's
``run_fn(fn_args)`` instead trains itself (``tfx_run_fn``; see ``contract``)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import sys
from typing import Any

from tfpipe.components.artifacts import Model, TransformGraph
from tfpipe.components.core.errors import NothingToCommit
from tfpipe.components.core.runtime import child_environment
from tfpipe.components.core.spec import Context
from tfpipe.components.core.tf_features import feature_types
from tfpipe.components.trainer.backends import backend_for
from tfpipe.components.trainer.cluster import run_cluster
from tfpipe.components.trainer.cluster_config import ClusterConfig
from tfpipe.components.trainer.data import transform_output
from tfpipe.components.trainer.job import TrainingJob
from tfpipe.components.trainer.task import STATS_FILE
from tfpipe.components.trainer.warm_start import (
    WarmStart,
    decide,
    feature_specs,
    vocabulary_digests,
)

log = logging.getLogger("tfpipe.trainer")


class TaskRoleDone(NothingToCommit):
    """This process was one non-chief task of an external cluster: it trained, the chief commits."""


def run(ctx: Context) -> dict[str, Any]:
    if ctx.external.get("contract") == "run_fn":  # TFX's generic trainer: the module trains
        from tfpipe.components.trainer import tfx_run_fn

        return tfx_run_fn.run(ctx)
    transform: TransformGraph = ctx.inputs["transform"]
    cluster = ClusterConfig.from_env()
    job = TrainingJob.create(ctx.params, ctx.runtime, transform, _work_dir(ctx, cluster), cluster)
    decision = job.decision
    log.info("trainer decision: %s (%s)", decision.backend, decision.reason)
    ctx.progress(
        f"{decision.backend}{' (converted from Keras)' if decision.converted else ''}, "
        f"{decision.distribution}: {decision.reason}"
    )
    os.makedirs(job.work_dir, exist_ok=True)
    with contextlib.ExitStack() as stack:  # holds the served model a warm start reads
        job, warm = _warm_start(ctx, job, stack)
        backend = backend_for(job)
        if decision.local_cluster:
            backend.prepare_cluster()
            stats = _train_on_local_cluster(ctx, job)
        else:
            # Only the chief mirrors the scratch: another task of an external cluster (another
            # host, the same scratch prefix) would delete the chief's files it does not have.
            mirror = ctx.checkpointed if job.cluster.is_chief else _no_mirror
            stats = backend.train(ctx.progress, mirror)
            if not job.cluster.is_chief:
                shutil.rmtree(job.work_dir, ignore_errors=True)  # its own: nothing reads it
                raise TaskRoleDone(
                    f"task {job.cluster.task_name} finished ({stats.get('steps')} steps); "
                    "the chief exports the model",
                    {
                        "cluster_task": job.cluster.task_name,
                        "distribution": decision.distribution,
                        "backend": decision.backend,
                        "converted": decision.converted,
                        **stats,
                    },
                )

        ctx.progress("exporting the serving SavedModel (transform graph inside)")
        model: Model = ctx.output
        classes = backend.export(model.serving_dir)
    model.write_info(
        {
            "task": job.p.task,
            "label": job.p.label,
            "classes": classes,
            "features": job.feature_names,
            # What the model's inputs are: a later run warm starts from it only if they agree.
            "transformed_features": feature_specs(job.features),
            "vocabularies": vocabulary_digests(transform.graph_dir),
            # The raw columns serving_default parses and their types (a scorer encodes new data so).
            "raw_features": feature_types(transform_output(transform).raw_feature_spec()),
            "signature": "serving_default",
            "training": decision.as_dict(),
            "warm_start": warm.as_dict(),
            "serving_raw_arguments": serving_raw_arguments(job),
        }
    )
    _keep_training_outputs(job.work_dir, model)
    # The checkpoints go only once the model is committed: a failure before that resumes.
    ctx.after_commit(lambda: shutil.rmtree(job.work_dir, ignore_errors=True))
    return {
        "backend": decision.backend,
        "converted": decision.converted,
        "distribution": decision.distribution,
        "reason": decision.reason,
        "cluster": decision.cluster,
        # Which task of an external cluster this was (its other tasks report theirs).
        **({"cluster_task": job.cluster.task_name} if job.cluster.is_cluster else {}),
        **stats,
        "task": job.p.task,
        "classes": classes,
        "warm_start": warm.as_dict(),
    }


def _work_dir(ctx: Context, cluster: ClusterConfig) -> str:
    """The step's scratch; for a non-chief task of an external cluster a folder of its own in it
    (on one host the tasks share the scratch: its checkpoints must not mix with the chief's),
    removed once it has trained."""
    if cluster.is_chief:
        return ctx.scratch_dir
    return os.path.join(ctx.scratch_dir, f"task-{cluster.task_type}-{cluster.task_index}")


def _no_mirror() -> None:
    """A non-chief task's checkpoints stay local (the chief's are the ones resumed from)."""


def _warm_start(
    ctx: Context, job: TrainingJob, stack: contextlib.ExitStack
) -> tuple[TrainingJob, WarmStart]:
    """The job with the served model's weights to start from, when ``trainer.warm_start`` asks
    and the served model fits (else a cold start, the reason recorded)."""
    if job.p.warm_start == "none":
        return job, WarmStart("none")
    # A task of an external cluster creates its strategy before any TensorFlow op: no scratch
    # model to check the weights with there.
    check = None if job.cluster.is_cluster else backend_for(job).warm_start_mismatch
    warm = decide(job, ctx.external.get("base_model_version"), check, stack)
    ctx.progress(warm.describe())
    if not warm.used:
        log.info("trainer: %s", warm.describe())
        return job, warm
    return dataclasses.replace(job, warm_start_from=warm.path), warm


def _train_on_local_cluster(ctx: Context, job: TrainingJob) -> dict[str, Any]:
    request_path = os.path.join(job.work_dir, "task_request.json")
    with open(request_path, "w", encoding="utf-8") as f:
        # The chief task mirrors the scratch to the store after each checkpoint itself.
        json.dump({**job.to_request(), "scratch_remote": ctx.scratch_remote, "step": ctx.step}, f)
    stats_path = os.path.join(job.work_dir, STATS_FILE)
    if os.path.exists(stats_path):
        os.remove(stats_path)

    def log_line(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    run_cluster(
        job.decision.cluster,
        [sys.executable, "-m", "tfpipe.components.trainer.task", request_path],
        child_environment(job.runtime),
        state_file=os.path.join(job.work_dir, "cluster.json"),
        log=log_line,
        progress=ctx.progress,
        timeout=job.p.cluster_timeout_seconds,
    )
    with open(stats_path, encoding="utf-8") as f:
        return dict(json.load(f))


def serving_raw_arguments(job: TrainingJob) -> dict[str, str]:
    """Column → argument name of the ``serving_raw`` signature (Keras and Estimator exports)."""
    from tfpipe.components.trainer.data import transform_output
    from tfpipe.components.trainer.export import raw_argument_names

    columns = transform_output(job.transform).raw_feature_spec()
    return raw_argument_names([c for c in columns if c != job.p.raw_label])


def _keep_training_outputs(work_dir: str, model: Model) -> None:
    """Copy summaries, checkpoints and the cluster layout into the artifact (the scratch stays
    until the model is committed)."""
    if os.path.exists(os.path.join(work_dir, "cluster.json")):
        shutil.copy(os.path.join(work_dir, "cluster.json"), model.cluster_file)
    for name, target in (
        ("logs", model.logs_dir),
        ("checkpoints", model.checkpoints_dir),
        ("estimator", model.checkpoints_dir),
    ):
        src = os.path.join(work_dir, name)
        if os.path.isdir(src) and not os.path.exists(target):
            shutil.copytree(src, target)
