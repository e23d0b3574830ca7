"""Evaluation metrics, streamed in batches through ``tf.keras.metrics`` (the same classes TFX's
Keras metrics and TFMA build on; identical in both runtimes), plus the gate checks.

Binary classifiers (two classes, or one sigmoid output) are measured on the positive class (index
1): accuracy, log loss, ROC-AUC, PR-AUC, precision / recall / F1 at ``threshold``. Multi-class
classifiers: accuracy, log loss, macro one-vs-rest ROC-AUC and PR-AUC, macro precision / recall /
F1. Both also get support-weighted precision / recall / F1, the confusion matrix, per-class counts
and a calibration table. Regression: MAE, RMSE, R², mean prediction and mean label, and their ratio
(calibration of the mean). Nothing here re-implements a metric: bins and counts are only tallied.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from tfpipe.components.evaluator.params import LOWER_IS_BETTER

CALIBRATION_BINS = 10
# ROC/PR-AUC are computed from per-threshold confusion counts: more thresholds, less bucketing
# error (1e6 keeps ROC-AUC within ~2e-5 of the exact value even for saturated scores).
AUC_THRESHOLDS = {"overall": 200_001, "multi_class": 100_001, "slice": 10_001}


class ClassificationMetrics:
    """Streaming classification metrics over class ids and ``[N, K]`` probabilities."""

    def __init__(self, num_classes: int, threshold: float = 0.5, detail: bool = True) -> None:
        k = self.num_classes = max(2, num_classes)
        self.binary = k == 2
        self.detail = detail
        m = tf.keras.metrics
        if self.binary:
            auc_n = AUC_THRESHOLDS["overall" if detail else "slice"]
            self.metrics = {
                "accuracy": m.BinaryAccuracy(threshold=threshold),
                "log_loss": m.BinaryCrossentropy(),
                "auc": m.AUC(curve="ROC", num_thresholds=auc_n),
                "pr_auc": m.AUC(curve="PR", num_thresholds=auc_n),
                "precision": m.Precision(thresholds=threshold),
                "recall": m.Recall(thresholds=threshold),
                "f1": m.F1Score(threshold=threshold),
            }
        else:
            self.metrics = {
                "accuracy": m.SparseCategoricalAccuracy(),
                "log_loss": m.SparseCategoricalCrossentropy(),
                "f1": m.F1Score(average="macro", threshold=None),
            }
        # Multi-class ROC/PR-AUC: one-vs-rest per class, macro-averaged (what AUC's
        # multi_label mode computes, without its per-call vectorisation cost). Overall only.
        auc_n = AUC_THRESHOLDS["multi_class"]
        self.one_vs_rest = (
            [
                (m.AUC(curve="ROC", num_thresholds=auc_n), m.AUC(curve="PR", num_thresholds=auc_n))
                for _ in range(k)
            ]
            if detail and not self.binary
            else []
        )
        # Per-class precision and recall (top-1 prediction): macro and weighted averages.
        self.per_class = (
            [(m.Precision(top_k=1, class_id=c), m.Recall(top_k=1, class_id=c)) for c in range(k)]
            if detail or not self.binary
            else []
        )
        self.weighted_f1 = m.F1Score(average="weighted", threshold=None) if detail else None
        self.confusion = tf.Variable(tf.zeros([k, k], tf.int64), trainable=False)
        self.bins = np.zeros((CALIBRATION_BINS, 3))  # count, summed prediction, summed outcome
        self.count = 0

    def compile(self) -> None:
        """Trace the update once (~0.3 s): worth it for the overall metrics, which see every
        batch; slice accumulators stay eager (many of them, each seeing few rows)."""
        self._update = tf.function(
            self._update,
            input_signature=[
                tf.TensorSpec([None], tf.int64),
                tf.TensorSpec([None, self.num_classes], tf.float32),
            ],
            autograph=False,
        )

    def _update(self, labels: tf.Tensor, probabilities: tf.Tensor) -> tf.Tensor:
        k = self.num_classes
        one_hot = tf.one_hot(labels, k)
        if self.binary:
            y = tf.cast(labels[:, None], tf.float32)
            p = probabilities[:, 1:2]
            for metric in self.metrics.values():
                metric.update_state(y, p)
        else:
            for name, metric in self.metrics.items():
                if name == "f1":
                    metric.update_state(one_hot, probabilities)
                else:
                    metric.update_state(labels, probabilities)
        for c, (roc, pr) in enumerate(self.one_vs_rest):
            roc.update_state(one_hot[:, c : c + 1], probabilities[:, c : c + 1])
            pr.update_state(one_hot[:, c : c + 1], probabilities[:, c : c + 1])
        for precision, recall in self.per_class:
            precision.update_state(one_hot, probabilities)
            recall.update_state(one_hot, probabilities)
        if self.weighted_f1 is not None:
            self.weighted_f1.update_state(one_hot, probabilities)
        predicted = tf.argmax(probabilities, axis=1)
        self.confusion.assign_add(
            tf.math.confusion_matrix(labels, predicted, num_classes=k, dtype=tf.int64)
        )
        return predicted

    def update(self, labels: np.ndarray, probabilities: np.ndarray) -> None:
        if not len(labels):
            return
        probabilities = np.asarray(probabilities, np.float32)
        predicted = self._update(tf.constant(labels, tf.int64), tf.constant(probabilities)).numpy()
        self.count += len(labels)
        if self.detail:
            if self.binary:  # reliability of the positive-class probability
                score, outcome = probabilities[:, 1], (labels == 1)
            else:  # reliability of the top-class confidence
                score = probabilities[np.arange(len(labels)), predicted]
                outcome = predicted == labels
            which = np.minimum((score * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
            for column, values in enumerate((np.ones_like(score), score, outcome)):
                self.bins[:, column] += np.bincount(
                    which, weights=values.astype(float), minlength=CALIBRATION_BINS
                )

    def result(self) -> dict[str, Any]:
        out = {name: _scalar(metric.result()) for name, metric in self.metrics.items()}
        if self.one_vs_rest:
            out["auc"] = float(np.mean([_scalar(roc.result()) for roc, _ in self.one_vs_rest]))
            out["pr_auc"] = float(np.mean([_scalar(pr.result()) for _, pr in self.one_vs_rest]))
        support = self.confusion.numpy().sum(axis=1)
        if self.per_class:
            precision = np.array([_scalar(p.result()) for p, _ in self.per_class])
            recall = np.array([_scalar(r.result()) for _, r in self.per_class])
            weights = support / max(support.sum(), 1)
            if not self.binary:
                out["precision"] = float(precision.mean())
                out["recall"] = float(recall.mean())
            if self.detail:
                out["weighted_precision"] = float((precision * weights).sum())
                out["weighted_recall"] = float((recall * weights).sum())
        if self.weighted_f1 is not None:
            out["weighted_f1"] = _scalar(self.weighted_f1.result())
        out["example_count"] = self.count
        return out

    def details(self, classes: list[str]) -> dict[str, Any]:
        matrix = self.confusion.numpy()
        return {
            "confusion_matrix": {"labels": classes, "counts": matrix.tolist()},
            "per_class": {
                c: {"actual": int(matrix[i].sum()), "predicted": int(matrix[:, i].sum())}
                for i, c in enumerate(classes)
            },
            "calibration": {
                "prediction": (
                    f"predicted probability of '{classes[1]}'"
                    if self.binary
                    else "confidence (top-class probability)"
                ),
                "observed": f"share that is '{classes[1]}'" if self.binary else "accuracy",
                "bins": _bins(self.bins),
            },
        }


class RegressionMetrics:
    """Streaming regression metrics over labels and predictions."""

    def __init__(self, detail: bool = True) -> None:
        m = tf.keras.metrics
        self.detail = detail
        self.metrics = {
            "mae": m.MeanAbsoluteError(),
            "rmse": m.RootMeanSquaredError(),
            "r2": m.R2Score(),
            "mean_prediction": m.Mean(),
            "mean_label": m.Mean(),
        }
        self.edges: np.ndarray | None = None
        self.bins = np.zeros((CALIBRATION_BINS, 3))
        self.count = 0

    def compile(self) -> None:
        """See ClassificationMetrics.compile."""
        self._update = tf.function(
            self._update,
            input_signature=[tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.float32)],
            autograph=False,
        )

    def _update(self, labels: tf.Tensor, predictions: tf.Tensor) -> None:
        y, p = labels[:, None], predictions[:, None]
        for name in ("mae", "rmse", "r2"):
            self.metrics[name].update_state(y, p)
        self.metrics["mean_prediction"].update_state(predictions)
        self.metrics["mean_label"].update_state(labels)

    def update(self, labels: np.ndarray, predictions: np.ndarray) -> None:
        if not len(labels):
            return
        labels = np.asarray(labels, np.float32)
        predictions = np.asarray(predictions, np.float32).reshape(-1)
        self._update(tf.constant(labels), tf.constant(predictions))
        self.count += len(labels)
        if self.detail:
            if self.edges is None:  # bins at the first batch's prediction deciles
                self.edges = np.quantile(predictions, np.linspace(0, 1, CALIBRATION_BINS + 1))[1:-1]
            which = np.searchsorted(self.edges, predictions)
            for column, values in enumerate((np.ones_like(predictions), predictions, labels)):
                self.bins[:, column] += np.bincount(
                    which, weights=values.astype(float), minlength=CALIBRATION_BINS
                )

    def result(self) -> dict[str, Any]:
        out = {name: _scalar(metric.result()) for name, metric in self.metrics.items()}
        out["calibration"] = (
            out["mean_prediction"] / out["mean_label"] if out["mean_label"] else None
        )
        out["example_count"] = self.count
        return out

    def details(self, classes: list[str] | None = None) -> dict[str, Any]:
        return {
            "calibration": {
                "prediction": "mean prediction",
                "observed": "mean label",
                "bins": _bins(self.bins),
            }
        }


def _scalar(value: Any) -> float:
    array = np.asarray(value, dtype=float).reshape(-1)
    return float(array[0]) if array.size else float("nan")


def _bins(bins: np.ndarray) -> list[dict[str, Any]]:
    return [
        {
            "bin": i,
            "count": int(count),
            "mean_prediction": total / count if count else None,
            "mean_label": outcome / count if count else None,
        }
        for i, (count, total, outcome) in enumerate(bins)
    ]


def check_thresholds(metrics: dict[str, Any], thresholds: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per threshold: the value, the bound and whether it passed."""
    checks = []
    for name, bound in sorted(thresholds.items()):
        value = metrics[name]
        passed = value is not None and not np.isnan(value)
        if passed and bound.lower is not None:
            passed = value >= bound.lower
        if passed and bound.upper is not None:
            passed = value <= bound.upper
        checks.append(
            {
                "metric": name,
                "value": value,
                "lower": bound.lower,
                "upper": bound.upper,
                "passed": bool(passed),
            }
        )
    return checks


def compare_with_baseline(
    candidate: dict[str, Any], baseline: dict[str, Any], changes: dict[str, Any]
) -> list[dict[str, Any]]:
    """Per gated metric: candidate, baseline, how much worse, allowed, passed."""
    checks = []
    for name, change in sorted(changes.items()):
        new, old = candidate[name], baseline[name]
        worse = (new - old) if name in LOWER_IS_BETTER else (old - new)
        checks.append(
            {
                "metric": name,
                "candidate": new,
                "baseline": old,
                "worsening": worse,
                "max_worsening": change.max_worsening,
                "passed": bool(worse <= change.max_worsening + 1e-12),
            }
        )
    return checks
