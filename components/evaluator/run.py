"""Evaluator entry point: score raw eval examples through ``serving_default``, as a client would."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import tensorflow as tf

from components.core.errors import InputDataError
from components.core.spec import Context
from components.core.tf_features import DTYPES, example_schema, split_files
from components.evaluator.metrics import ClassificationMetrics, RegressionMetrics, check_thresholds
from components.evaluator.params import EvaluatorParams


def run(ctx: Context) -> dict[str, Any]:
    p: EvaluatorParams = ctx.params
    examples, model = ctx.inputs["examples"], ctx.inputs["model"]
    schema = example_schema(examples)
    if p.label not in schema.names:
        raise InputDataError(
            f"evaluator.label '{p.label}' is not a column of the examples ({schema.names})"
        )
    with open(model.path("model_info.json"), encoding="utf-8") as f:
        info = json.load(f)
    serve = tf.saved_model.load(model.path("serving_model")).signatures["serving_default"]
    label_spec = {p.label: tf.io.VarLenFeature(DTYPES[schema.column(p.label).type])}
    classification = info["task"] == "classification"
    acc = ClassificationMetrics(info["classes"]) if classification else RegressionMetrics()
    missing_labels = 0
    ds = tf.data.TFRecordDataset(split_files(examples, p.split)).batch(p.batch_size)
    for batch in ds:
        label_sparse = tf.io.parse_example(batch, label_spec)[p.label]
        has_label = np.zeros(int(batch.shape[0]), dtype=bool)
        has_label[label_sparse.indices[:, 0].numpy()] = True
        missing_labels += int((~has_label).sum())
        if not has_label.any():
            continue
        outputs = serve(examples=tf.boolean_mask(batch, has_label))
        labels = label_sparse.values.numpy()  # one value per labelled row, in row order
        if classification:
            acc.update([v.decode() for v in labels], outputs["probabilities"].numpy())
        else:
            acc.update(labels.astype(np.float64), outputs["predictions"].numpy().astype(np.float64))
    metrics = acc.result()
    metrics["missing_labels"] = missing_labels
    if metrics["example_count"] == 0:
        raise InputDataError(f"evaluator: split '{p.split}' has no examples with a label")
    checks = check_thresholds(metrics, p.thresholds)
    blessed = all(c["passed"] for c in checks)
    evaluation = {"metrics": metrics, "thresholds": checks, "blessed": blessed, "split": p.split}
    with open(os.path.join(ctx.output_dir, "evaluation.json"), "w", encoding="utf-8") as f:
        json.dump(evaluation, f, indent=2)
    if blessed:
        open(os.path.join(ctx.output_dir, "BLESSED"), "w").close()
    headline = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    failed = [c for c in checks if not c["passed"]]
    return {"blessed": blessed, "metrics": headline, "failed_thresholds": failed}
