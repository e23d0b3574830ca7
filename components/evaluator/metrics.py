"""Streaming metric accumulators (constant memory in the number of examples; no TensorFlow)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from components.evaluator.params import LOWER_IS_BETTER

CALIBRATION_BINS = 10


class ClassificationMetrics:
    def __init__(self, classes: list[str]) -> None:
        self.classes = classes
        self.index = {c: i for i, c in enumerate(classes)}
        self.confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
        self.log_loss_sum = 0.0
        self.count = 0
        self.unknown_labels = 0
        # Reliability diagram: per confidence bin, examples, summed confidence, correct count.
        self.bins = np.zeros((CALIBRATION_BINS, 3))

    def update(self, labels: list[str], probabilities: np.ndarray) -> None:
        predicted = probabilities.argmax(axis=1)
        for label, probs, pred in zip(labels, probabilities, predicted, strict=True):
            i = self.index.get(label)
            if i is None:
                self.unknown_labels += 1
                continue
            self.confusion[i, pred] += 1
            self.log_loss_sum -= math.log(max(float(probs[i]), 1e-15))
            self.count += 1
            confidence = float(probs[pred])
            b = min(int(confidence * CALIBRATION_BINS), CALIBRATION_BINS - 1)
            self.bins[b] += (1, confidence, float(pred == i))

    def result(self, detail: bool = True) -> dict[str, Any]:
        n = max(self.count, 1)
        out: dict[str, Any] = {
            "accuracy": float(np.trace(self.confusion)) / n,
            "log_loss": self.log_loss_sum / n,
            "example_count": self.count,
        }
        if detail:
            out["unknown_labels"] = self.unknown_labels
        return out

    def details(self) -> dict[str, Any]:
        return {
            "confusion_matrix": {"labels": self.classes, "counts": self.confusion.tolist()},
            "calibration": {
                "prediction": "confidence (top-class probability)",
                "observed": "accuracy",
                "bins": [
                    {
                        "bin": i / CALIBRATION_BINS,
                        "count": int(c),
                        "mean_prediction": s / c if c else None,
                        "mean_label": k / c if c else None,
                    }
                    for i, (c, s, k) in enumerate(self.bins)
                ],
            },
        }


class RegressionMetrics:
    def __init__(self) -> None:
        self.count = 0
        self.abs_sum = self.sq_sum = self.y_sum = self.y_sq_sum = 0.0

    def update(self, labels: np.ndarray, predictions: np.ndarray) -> None:
        err = predictions - labels
        self.count += len(labels)
        self.abs_sum += float(np.abs(err).sum())
        self.sq_sum += float((err**2).sum())
        self.y_sum += float(labels.sum())
        self.y_sq_sum += float((labels**2).sum())

    def details(self) -> dict[str, Any]:
        return {}

    def result(self, detail: bool = True) -> dict[str, Any]:
        n = max(self.count, 1)
        variance = self.y_sq_sum / n - (self.y_sum / n) ** 2
        return {
            "mae": self.abs_sum / n,
            "rmse": math.sqrt(self.sq_sum / n),
            "r2": 1 - (self.sq_sum / n) / variance if variance > 0 else 0.0,
            "example_count": self.count,
        }


def check_thresholds(metrics: dict[str, Any], thresholds: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per threshold: the value, the bound and whether it passed."""
    checks = []
    for name, bound in sorted(thresholds.items()):
        value = metrics.get(name)
        passed = value is not None
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
        new, old = candidate.get(name), baseline.get(name)
        if new is None or old is None:
            continue
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
