"""Trainer backends: pre-made/custom Estimators, auto conversion, real multi-process clusters."""

from __future__ import annotations

import json
import os

import pytest
from conftest import REPO, run_penguins, step

from tfpipe.components.artifacts import Model, open_artifact

pytestmark = pytest.mark.slow

REGRESSION = os.path.join(REPO, "tests", "modules", "regression_module.py")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def manifest(record: dict, name: str) -> dict:
    return open_artifact(step(record, name)["uri"]).manifest


def model(record: dict) -> Model:
    return open_artifact(step(record, "trainer")["uri"], Model)


def worker_log(record: dict) -> str:
    return "".join(open(path).read() for path in record["worker_logs"])


def served_accuracy(record: dict) -> float:
    from serving import served_accuracy as accuracy

    pushed = step(record, "pusher")["summary"]["destination"]
    return accuracy(pushed, step(record, "example_gen")["uri"], "species")


@pytest.fixture(scope="module")
def estimator_home(tmp_path_factory) -> str:
    """One home for the estimator-runtime tests: ExampleGen and Transform run once, then cached."""
    return str(tmp_path_factory.mktemp("estimator_home"))


@pytest.mark.estimator
def test_premade_dnn_classifier_from_hyperparameters_alone(estimator_home):
    record = run_penguins(
        estimator_home,
        {
            "runtime": "estimator",
            "trainer.backend": "estimator",
            "trainer.estimator": "DNNClassifier",
            "trainer.hyperparameters": {"hidden_units": [16, 8], "learning_rate": 0.05},
            "trainer.train_steps": 500,
        },
    )
    assert record["status"] == "succeeded", record
    trainer = manifest(record, "trainer")["summary"]
    assert trainer["backend"] == "estimator" and trainer["converted"] is False
    assert served_accuracy(record) >= 0.9


@pytest.mark.estimator
def test_premade_linear_regressor_and_custom_model_fn(estimator_home):
    from dataclasses import replace

    from tfpipe.pipelines.local_runner import run_pipeline
    from tfpipe.pipelines.registry import load_pipeline

    def run_regression(overrides: dict) -> dict:
        """The penguins pipeline with its species label taken away: these steps name their own."""
        pipeline = replace(load_pipeline("penguins", estimator_home), label=None)
        return run_pipeline(pipeline.with_overrides(overrides), estimator_home, overrides=overrides)

    common = {
        "runtime": "estimator",
        "transform.module_file": REGRESSION,
        "trainer.module_file": REGRESSION,
        "trainer.task": "regression",
        "trainer.label": "bill_length",
        "trainer.label_vocabulary": None,
        "trainer.backend": "estimator",
        "evaluator.label": "bill_length_mm",
        "evaluator.change_thresholds": {},
    }
    linear = run_regression(
        {
            **common,
            "trainer.estimator": "LinearRegressor",
            "trainer.hyperparameters": {"optimizer": "Adam", "learning_rate": 0.5},
            "evaluator.thresholds": {"r2": {"lower": 0.5}},
        }
    )
    assert linear["status"] == "succeeded", linear
    metrics = step(linear, "evaluator")["summary"]["metrics"]
    assert metrics["r2"] > 0.5 and metrics["mae"] < 4.0  # bill length std is ~5.5 mm
    custom = run_regression(
        {
            **common,
            "trainer.estimator": "custom",
            "trainer.hyperparameters": {"learning_rate": 0.5},
            "evaluator.thresholds": {"r2": {"lower": 0.2}},
        }
    )
    assert custom["status"] == "succeeded", custom
    assert step(custom, "transform")["status"] == "cached"
    from serving import check_serving_raw  # a custom model_fn's export serves raw tensors too

    exported = model(custom)
    arguments = exported.info()["serving_raw_arguments"]
    assert check_serving_raw(exported.serving_dir, step(custom, "example_gen")["uri"], arguments)


@pytest.mark.estimator
def test_unknown_premade_hyperparameter_is_named(estimator_home):
    record = run_penguins(
        estimator_home,
        {
            "runtime": "estimator",
            "trainer.backend": "estimator",
            "trainer.estimator": "LinearClassifier",
            "trainer.hyperparameters": {"hidden_units": [4]},
        },
    )
    error = step(record, "trainer")["error"]
    assert "['hidden_units'] are not arguments of LinearClassifier" in error


@pytest.mark.estimator
def test_auto_with_two_workers_converts_keras_and_trains_across_processes(estimator_home):
    record = run_penguins(
        estimator_home,
        {
            "runtime": "estimator",
            "trainer.backend": "auto",
            "trainer.distribution": "multi_worker",
            "trainer.num_workers": 2,
            "trainer.train_steps": 300,
        },
    )
    assert record["status"] == "succeeded", record
    summary = manifest(record, "trainer")["summary"]
    assert summary["converted"] is True and summary["backend"] == "estimator"
    assert "model_to_estimator" in summary["reason"] and "train_and_evaluate" in summary["reason"]
    assert summary["cluster"] == {"chief": 1, "worker": 1}
    info = model(record).info()
    assert info["training"]["converted"] is True
    log = worker_log(record)
    cluster = json.load(open(model(record).cluster_file))
    assert len(set(cluster["pids"].values())) == 2  # two separate processes
    for task in ("chief:0", "worker:0"):  # both workers log their training steps
        assert f"[{task}] step 200" in log
    assert not any(pid_alive(p) for p in cluster["pids"].values())
    assert served_accuracy(record) >= 0.9
    # The converted model's export has a Keras export's signatures: transform_features (the
    # label a class id of the species vocabulary) and serving_raw.
    from serving import check_serving_raw, eval_rows, transformed_feature

    pushed = step(record, "pusher")["summary"]["destination"]
    examples = step(record, "example_gen")["uri"]
    ids = transformed_feature(pushed, examples, "label")
    species = [row["species"].decode() for row in eval_rows(examples)[1]]
    assert [info["classes"][i] for i in ids] == species
    assert check_serving_raw(pushed, examples, info["serving_raw_arguments"]) > 0


@pytest.mark.estimator
def test_parameter_server_training_with_a_ps_task_leaves_no_process(estimator_home):
    record = run_penguins(
        estimator_home,
        {
            "runtime": "estimator",
            "trainer.backend": "estimator",
            "trainer.estimator": "DNNClassifier",
            "trainer.distribution": "parameter_server",
            "trainer.train_steps": 300,
            "trainer.hyperparameters": {"hidden_units": [16], "learning_rate": 0.05},
        },
    )
    assert record["status"] == "succeeded", record
    summary = manifest(record, "trainer")["summary"]
    assert summary["distribution"] == "parameter_server"
    assert summary["cluster"] == {"chief": 1, "worker": 1, "ps": 1}
    cluster = json.load(open(model(record).cluster_file))
    assert "ps:0" in cluster["pids"]
    assert not any(pid_alive(p) for p in cluster["pids"].values())  # ps ended by the launcher
    assert served_accuracy(record) >= 0.85


def test_modern_auto_with_two_workers_runs_keras_multi_worker_mirrored(tmp_path):
    record = run_penguins(
        str(tmp_path),
        {
            "trainer.backend": "auto",
            "trainer.distribution": "multi_worker",
            "trainer.train_steps": 300,
        },
    )
    assert record["status"] == "succeeded", record
    summary = manifest(record, "trainer")["summary"]
    assert summary["backend"] == "keras" and summary["converted"] is False
    assert "MultiWorkerMirroredStrategy" in summary["reason"]
    log = worker_log(record)
    assert "[chief:0] epoch 3/3 step 300" in log and "[worker:0] epoch 3/3 step 300" in log
    assert served_accuracy(record) >= 0.9
