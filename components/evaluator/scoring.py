"""Scoring a serving SavedModel on raw examples, overall and per slice, as a client would."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from components.artifacts import saved_model_info
from components.core.schema import Schema
from components.core.tf_features import DTYPES
from components.evaluator.metrics import ClassificationMetrics, RegressionMetrics

MISSING = "(missing)"


def _column(parsed: tf.SparseTensor, rows: int, as_text: bool) -> np.ndarray:
    """One value per row from an optional raw feature; MISSING (or NaN) where absent."""
    present = np.zeros(rows, dtype=bool)
    present[parsed.indices[:, 0].numpy()] = True
    values = parsed.values.numpy()
    if as_text:
        out = np.full(rows, MISSING, dtype=object)
        out[present] = [v.decode() if isinstance(v, bytes) else str(v) for v in values]
    else:
        out = np.full(rows, np.nan)
        out[present] = values
    return out


def score(
    export_dir: str,
    files: list[str],
    schema: Schema,
    label: str,
    slice_by: list[str],
    batch_size: int,
) -> dict[str, Any]:
    info = saved_model_info(export_dir)
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    classification = info["task"] == "classification"

    def accumulator():
        return ClassificationMetrics(info["classes"]) if classification else RegressionMetrics()

    overall = accumulator()
    slices: dict[str, dict[str, Any]] = {f: {} for f in slice_by}
    spec = {c: tf.io.VarLenFeature(DTYPES[schema.column(c).type]) for c in [label, *slice_by]}
    missing_labels = 0
    for batch in tf.data.TFRecordDataset(files).batch(batch_size):
        rows = int(batch.shape[0])
        parsed = tf.io.parse_example(batch, spec)
        labels = _column(parsed[label], rows, as_text=classification)
        has_label = labels != MISSING if classification else ~np.isnan(labels)
        missing_labels += int((~has_label).sum())
        if not has_label.any():
            continue
        outputs = serve(examples=tf.boolean_mask(batch, has_label))
        labels = labels[has_label]
        scores = (outputs["probabilities"] if classification else outputs["predictions"]).numpy()
        overall.update(labels, scores)
        for feature in slice_by:
            values = _column(parsed[feature], rows, as_text=True)[has_label]
            for value in np.unique(values):
                mask = values == value
                acc = slices[feature].setdefault(value, accumulator())
                acc.update(labels[mask], scores[mask])
    result = overall.result(detail=False)
    result["missing_labels"] = missing_labels
    return {
        "overall": result,
        "details": overall.details(),
        "slices": {
            f: {v: a.result(detail=False) for v, a in sorted(vals.items())}
            for f, vals in slices.items()
        },
        "task": info["task"],
    }
