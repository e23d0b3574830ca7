"""Trainer entry point: decide the backend, train (in process or on a local cluster), export the
serving contract, and record what was trained and how."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from typing import Any

from components.core.errors import NothingToCommit
from components.core.runtime import child_environment
from components.core.spec import Context
from components.trainer.cluster import run_cluster
from components.trainer.decision import decide, external_cluster
from components.trainer.export import label_names
from components.trainer.params import TrainerParams
from components.trainer.task import STATS_FILE
from components.trainer.training import export, train

log = logging.getLogger("tfpipe.trainer")


class TaskRoleDone(NothingToCommit):
    """This process was one non-chief task of an external cluster: it trained, the chief commits."""


def run(ctx: Context) -> dict[str, Any]:
    p: TrainerParams = ctx.params
    transform = ctx.inputs["transform"]
    tf_config = external_cluster()
    decision = decide(p, ctx.runtime, tf_config)
    log.info("trainer decision: %s (%s)", decision.backend, decision.reason)
    ctx.progress(
        f"{decision.backend}"
        f"{' (converted from Keras)' if decision.converted else ''}, "
        f"{decision.distribution}: {decision.reason}"
    )
    work_dir = ctx.scratch_dir
    os.makedirs(work_dir, exist_ok=True)

    model_holder: list[Any] = []
    if decision.cluster:
        stats = _train_on_local_cluster(ctx, p, decision, work_dir)
    else:
        stats = train(p, decision, transform, work_dir, ctx.progress, keep_model=model_holder)
        if tf_config and tf_config.get("task", {}).get("type") not in (None, "chief"):
            raise TaskRoleDone(f"task {tf_config['task']} finished; the chief exports the model")

    ctx.progress("exporting the serving SavedModel (transform graph inside)")
    export_dir = os.path.join(ctx.output_dir, "serving_model")
    names = export(
        p, decision, transform, work_dir, export_dir, model_holder[0] if model_holder else None
    )
    classes = label_names(transform, p.label_vocabulary) if p.task == "classification" else None
    info = {
        "task": p.task,
        "classes": classes,
        "features": names,
        "signature": "serving_default",
        "training": decision.as_dict(),
    }
    os.makedirs(os.path.join(export_dir, "assets.extra"), exist_ok=True)
    for path in (
        os.path.join(ctx.output_dir, "model_info.json"),
        os.path.join(export_dir, "assets.extra", "model_info.json"),
    ):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(info, f, indent=2)
    _keep_training_outputs(work_dir, ctx.output_dir)
    return {
        "backend": decision.backend,
        "converted": decision.converted,
        "distribution": decision.distribution,
        "reason": decision.reason,
        "cluster": decision.cluster,
        **stats,
        "task": p.task,
        "classes": classes,
    }


def _train_on_local_cluster(ctx: Context, p: TrainerParams, decision, work_dir: str) -> dict:
    request = {
        "params": p.model_dump(mode="json"),
        "decision": decision.as_dict(),
        "transform_uri": ctx.inputs["transform"].uri,
        "work_dir": work_dir,
    }
    if decision.converted:
        # model_to_estimator writes the Keras warm-start checkpoint in every task that thinks it
        # is the chief (all of them under MultiWorkerMirroredStrategy): they race on one file.
        # Writing it once here, before the tasks start, makes them all find it and skip the save.
        from components.trainer.estimator_backend import build_estimator
        from components.trainer.job import prepare

        build_estimator(prepare(p, decision, ctx.inputs["transform"], work_dir), local=True)
    request_path = os.path.join(work_dir, "task_request.json")
    with open(request_path, "w", encoding="utf-8") as f:
        json.dump(request, f)
    stats_path = os.path.join(work_dir, STATS_FILE)
    if os.path.exists(stats_path):
        os.remove(stats_path)

    def log_line(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    run_cluster(
        decision.cluster,
        [sys.executable, "-m", "components.trainer.task", request_path],
        child_environment(),
        state_file=os.path.join(work_dir, "cluster.json"),
        log=log_line,
        progress=ctx.progress,
    )
    with open(stats_path, encoding="utf-8") as f:
        return json.load(f)


def _keep_training_outputs(work_dir: str, output_dir: str) -> None:
    """Move summaries, checkpoints and the cluster layout into the artifact; drop the scratch."""
    if os.path.exists(os.path.join(work_dir, "cluster.json")):
        shutil.copy(
            os.path.join(work_dir, "cluster.json"), os.path.join(output_dir, "cluster.json")
        )
    for name, target in (
        ("logs", "logs"),
        ("checkpoints", "checkpoints"),
        ("estimator", "checkpoints"),
    ):
        src = os.path.join(work_dir, name)
        if os.path.isdir(src) and not os.path.exists(os.path.join(output_dir, target)):
            shutil.move(src, os.path.join(output_dir, target))
    shutil.rmtree(work_dir, ignore_errors=True)
