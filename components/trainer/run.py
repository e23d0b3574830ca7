"""Trainer entry point: choose the backend, train, export the serving contract, record how."""

from __future__ import annotations

import json
import os
from typing import Any

from components.core.spec import Context
from components.trainer.data import describe_features, transform_output
from components.trainer.export import export_keras, label_names
from components.trainer.keras_backend import train_keras
from components.trainer.params import TrainerParams


def run(ctx: Context) -> dict[str, Any]:
    p: TrainerParams = ctx.params
    transform = ctx.inputs["transform"]
    features, num_classes = describe_features(transform_output(transform), p.label)
    hparams = {**p.hyperparameters}
    if p.task == "classification":
        hparams.setdefault("num_classes", num_classes)
    decision = {"backend": "keras", "distribution": p.distribution, "reason": "backend=keras"}
    ctx.progress(f"training Keras model for {p.train_steps} steps")
    model, stats = train_keras(ctx, features, hparams, ctx.output_dir)

    classes = label_names(transform, p.label_vocabulary) if p.task == "classification" else None
    names = [f.name for f in features]
    export_dir = os.path.join(ctx.output_dir, "serving_model")
    ctx.progress("exporting the serving SavedModel (transform graph inside)")
    export_keras(model, transform, names, p.task, classes, export_dir)
    info = {"task": p.task, "classes": classes, "features": names, "signature": "serving_default"}
    with open(os.path.join(ctx.output_dir, "model_info.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
    return {**decision, **stats, "task": p.task, "classes": classes}
