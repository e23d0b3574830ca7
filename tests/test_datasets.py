"""Bring your own data: three real datasets beside penguins (binary with a derived label,
regression, multi-class with integer labels), each end to end on both runtimes. The Evaluator's
metrics are checked against scikit-learn on the served model's predictions, the pushed model
serves raw tf.Examples, and a worse model is refused for the stated reason."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import step
from datasets import DATASETS, load_frame
from scoring_support import (
    assert_passthrough,
    assert_predictions_match,
    read_output,
    read_rows,
    served_outputs,
)
from sklearn import metrics as skm

from tfpipe.components.artifacts import Examples, ModelEvaluation, ServingDirectory, open_artifact
from tfpipe.pipelines.home import serving_base
from tfpipe.pipelines.local_runner import run_pipeline
from tfpipe.pipelines.scoring import scoring_pipeline

pytestmark = pytest.mark.slow
TOLERANCE = 1e-4


def interpolated_pr_auc(y: np.ndarray, p: np.ndarray) -> float:
    """PR-AUC with the Davis & Goadrich interpolation between exact operating points (what TFMA
    and tf.keras report; scikit-learn's average precision is a step sum, a different quantity)."""
    thresholds = np.unique(p)[::-1]
    tp = np.array([((p >= t) & (y == 1)).sum() for t in thresholds], float)
    fp = np.array([((p >= t) & (y == 0)).sum() for t in thresholds], float)
    tp, fp = np.concatenate([[0.0], tp]), np.concatenate([[0.0], fp])
    positives = y.sum()
    total = 0.0
    for i in range(1, len(tp)):
        dtp, dp = tp[i] - tp[i - 1], (tp[i] + fp[i]) - (tp[i - 1] + fp[i - 1])
        if dp <= 0 or dtp <= 0:
            continue
        # From the stricter point (i-1) to the looser one (i), precision interpolated linearly
        # in the number of predicted positives.
        slope = dtp / dp
        before = tp[i - 1] + fp[i - 1]
        intercept = tp[i - 1] - slope * before
        ratio = (tp[i] + fp[i]) / before if before > 0 else 1.0
        total += slope * (dtp + intercept * np.log(ratio)) / positives
    return float(total)


def served(model_dir: str, examples: Examples) -> dict[str, np.ndarray]:
    """The served model's outputs on the raw eval split, and the raw rows, as a client sees them."""
    import tensorflow as tf

    serve = tf.saved_model.load(model_dir).signatures["serving_default"]
    outputs: dict[str, list] = {}
    for batch in tf.data.TFRecordDataset(examples.split_files("eval")).batch(512):
        for key, value in serve(examples=batch).items():
            outputs.setdefault(key, []).append(value.numpy())
    return {k: np.concatenate(v) for k, v in outputs.items()}


def eval_frame(examples: Examples):
    """The raw eval rows (decoded by the test itself) in split order."""
    import pandas as pd
    import tensorflow as tf

    rows = []
    for record in tf.data.TFRecordDataset(examples.split_files("eval")):
        ex = tf.train.Example.FromString(record.numpy())
        rows.append(
            {
                k: next(iter(getattr(f, f.WhichOneof("kind")).value))
                for k, f in ex.features.feature.items()
            }
        )
    return pd.DataFrame(rows)


def reference(name: str, out: dict[str, np.ndarray], frame) -> dict[str, float]:
    if name == "fair":
        y = (frame["affairs"].to_numpy() > 0).astype(int)  # the label, derived independently
        p = np.clip(out["probabilities"][:, 1].astype(float), 1e-7, 1 - 1e-7)
        predicted = (p >= 0.5).astype(int)
        return {
            "accuracy": skm.accuracy_score(y, predicted),
            "log_loss": skm.log_loss(y, p),
            "auc": skm.roc_auc_score(y, p),
            "pr_auc": interpolated_pr_auc(y, p),
            "precision": skm.precision_score(y, predicted),
            "recall": skm.recall_score(y, predicted),
            "f1": skm.f1_score(y, predicted),
            "weighted_f1": skm.f1_score(y, predicted, average="weighted"),
            "example_count": len(y),
        }
    if name == "randhie":
        y, pred = frame["mdvis"].to_numpy(float), out["predictions"].astype(float)
        return {
            "mae": skm.mean_absolute_error(y, pred),
            "rmse": float(np.sqrt(skm.mean_squared_error(y, pred))),
            "r2": skm.r2_score(y, pred),
            "mean_prediction": float(pred.mean()),
            "mean_label": float(y.mean()),
            "example_count": len(y),
        }
    y = frame["digit"].to_numpy(int)
    probabilities = out["probabilities"].astype(float)
    predicted = probabilities.argmax(axis=1)
    return {
        "accuracy": skm.accuracy_score(y, predicted),
        "log_loss": skm.log_loss(y, np.clip(probabilities, 1e-7, 1), labels=list(range(10))),
        "auc": skm.roc_auc_score(y, probabilities, multi_class="ovr", labels=list(range(10))),
        "f1": skm.f1_score(y, predicted, average="macro"),
        "precision": skm.precision_score(y, predicted, average="macro", zero_division=0),
        "recall": skm.recall_score(y, predicted, average="macro"),
        "weighted_f1": skm.f1_score(y, predicted, average="weighted"),
        "example_count": len(y),
    }


# Batch scoring checked on the binary and the regression model (penguins: test_bulk_inferrer.py).
SCORED = {"fair": ["occupation", "age"], "randhie": ["idp", "mdvis"]}


def check_batch_scoring(dataset, home: str, data: str, runtime: str, model_dir: str) -> None:
    """The pipeline's scoring (its served model; the Bulk Inferrer in the same runtime) writes
    Parquet whose predictions are serving_default's on the same rows, passthrough intact."""
    passthrough = SCORED[dataset.name]
    scoring = scoring_pipeline(dataset.pipeline(home, data, runtime)).with_overrides(
        {"passthrough": passthrough}
    )
    record = run_pipeline(scoring, home)
    assert record["status"] == "succeeded", record.get("error")
    [scored] = record["steps"]
    assert scored["summary"]["task"] == dataset.trainer.get("task", "classification")
    rows = read_rows(data)
    table = read_output(scored["uri"], "parquet")
    assert_passthrough(table, rows, passthrough)
    assert_predictions_match(table, served_outputs(model_dir, rows))


@pytest.fixture(scope="module", params=["modern", "estimator"])
def runtime(request) -> str:
    return request.param


@pytest.mark.parametrize("name", ["fair", "randhie", "digits"])
def test_dataset_end_to_end_with_metrics_checked_against_scikit_learn(
    name, runtime, tmp_path_factory
):
    dataset = DATASETS[name]
    home = str(tmp_path_factory.mktemp(f"{name}_{runtime}"))
    data = dataset.write_csv(f"{home}/{name}.csv")
    record = run_pipeline(dataset.pipeline(home, data, runtime), home)
    assert record["status"] == "succeeded", record
    evaluator = step(record, "evaluator")
    assert evaluator["summary"]["blessed"], evaluator
    pusher = step(record, "pusher")["summary"]
    assert pusher["pushed"], pusher

    examples = open_artifact(step(record, "example_gen")["uri"], Examples)
    out = served(pusher["destination"], examples)
    expected = reference(name, out, eval_frame(examples))
    got = open_artifact(evaluator["uri"], ModelEvaluation).evaluation()["metrics"]
    for metric, value in expected.items():
        assert abs(got[metric] - value) <= TOLERANCE, (metric, got[metric], value)
    if name == "fair":  # the derived label was read through the exported model's transform graph
        assert open_artifact(evaluator["uri"], ModelEvaluation).evaluation()["label"] == (
            "had_affair"
        )
        assert out["probabilities"].shape[1] == 2  # one sigmoid unit serves [1 - p, p]
    assert len(load_frame(name)) == sum(examples.summary["splits"].values())
    if name in SCORED:
        check_batch_scoring(dataset, home, data, runtime, pusher["destination"])

    if runtime == "modern":  # a much worse model is refused against the served one
        worse = dataset.pipeline(home, data, runtime).with_overrides(
            {"trainer.train_steps": 1, "trainer.steps_per_epoch": 1}
        )
        again = run_pipeline(worse, home)
        assert again["status"] == "succeeded", again
        assert step(again, "example_gen")["status"] == "cached"
        verdict = step(again, "evaluator")["summary"]
        assert not verdict["blessed"]
        refused = step(again, "pusher")["summary"]
        assert not refused["pushed"] and "model not blessed" in refused["reason"]
        assert ServingDirectory(serving_base(home), name).versions() == [pusher["version"]]
