"""The DAG files and ``dag.test()``: clean, fast parsing; run params that reach the manifests."""

from __future__ import annotations

import glob
import json
import os
import subprocess

import pytest
from airflow_support import PYTHON, airflow_env, dag_test
from conftest import REPO

from tfpipe.components.artifacts import open_artifact
from tfpipe.pipelines.penguins.pipeline import default_data
from tfpipe.pipelines.runs import find_run
from tfpipe.pipelines.triggers import split_roots

PARSE = """
import os, sys, time, json
import airflow.sdk  # the import cost of Airflow itself is not the DAG files' cost
from airflow.dag_processing.dagbag import DagBag
start = time.perf_counter()
bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "dags": sorted(bag.dag_ids), "errors": bag.import_errors,
                  "tensorflow": "tensorflow" in sys.modules}))
"""


def test_dags_folder_parses_without_errors_or_tensorflow_in_well_under_a_second(tmp_path):
    env = airflow_env(str(tmp_path))
    out = subprocess.run(
        [PYTHON, "-c", PARSE], env=env, capture_output=True, text=True, cwd=REPO, timeout=120
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert result["dags"] == [
        "penguins",
        "penguins_daily",
        "penguins_daily_on_new_data",
        "penguins_data_drop",
        "penguins_on_new_data",
        "penguins_predictions_consumer",
        "penguins_scoring",
    ]
    assert result["tensorflow"] is False
    assert result["seconds"] < 1.0, result


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    env = airflow_env(str(tmp_path_factory.mktemp("airflow_dagtest")))
    subprocess.run(
        [os.path.join(os.path.dirname(PYTHON), "airflow"), "db", "migrate"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return env


@pytest.mark.slow
def test_dag_test_runs_the_pipeline_with_the_conf_it_was_given(env):
    data = default_data()
    result = dag_test(env, "penguins", {"train_steps": 50, "min_accuracy": 0.5, "data": data})
    assert result["state"] == "success", result
    assert set(result["tasks"]) == {
        "example_gen",
        "example_validator",
        "transform",
        "trainer",
        "evaluator",
        "pusher",
        "report",
    }
    trainer = result["xcom"]["trainer"]
    manifest = open_artifact(trainer["uri"]).manifest
    assert manifest["parameters"]["train_steps"] == 50  # the conf reached the artifact
    example_gen = open_artifact(result["xcom"]["example_gen"]["uri"]).manifest["parameters"]
    # Data a trigger names is confined to the data roots where it is matched and read.
    assert example_gen["data_roots"] == split_roots(env["TFPIPE_DATA_ROOTS"])
    record = find_run(env["TFPIPE_HOME"], trainer["run_id"])  # the same record a local run has
    assert record["runner"] == "airflow" and record["status"] == "succeeded"
    assert record["overrides"] == {"train_steps": 50, "min_accuracy": 0.5, "data": data}
    assert record["seconds"] > 1 and record["cpu_seconds"] > 1  # real figures, not zeros
    assert [s["status"] for s in record["steps"]] == ["executed"] * 6
    evaluation = open_artifact(result["xcom"]["evaluator"]["uri"]).manifest
    assert evaluation["parameters"]["thresholds"]["accuracy"]["lower"] == 0.5
    report = result["xcom"]["report"]  # every DAG run gets a run record and a report
    page = open(report).read()
    assert os.path.isfile(report) and "tfpipe run" in page
    # The step tasks drew their upstream steps' sections while their own step ran; the report
    # task used them (each kept section's figures are in the page as they were drawn).
    kept = glob.glob(os.path.join(os.path.dirname(report), "sections", "*.html"))
    drawn = {os.path.basename(p).rsplit("-", 1)[0] for p in kept}
    assert {"example_gen", "transform", "trainer", "evaluator"} <= drawn, kept
    for path in kept:
        assert open(path).read() in page
    # XCom carries only small JSON: URIs, fingerprints, summaries.
    assert len(json.dumps(result["xcom"])) < 20_000


@pytest.mark.parametrize(
    "conf, name",
    [
        ({"train_steps": -3}, "train_steps"),
        ({"backend": "tpu"}, "backend"),
        ({"min_accuracy": 7}, "min_accuracy"),
    ],
)
def test_invalid_conf_is_refused_before_a_run_exists(env, conf, name):
    result = dag_test(env, "penguins", conf)
    assert "refused" in result, result
    assert "ParamValidationError" in result["refused"] and name in result["refused"]


def test_airflow_cli_reports_no_import_errors(env):
    airflow = os.path.join(os.path.dirname(PYTHON), "airflow")
    subprocess.run(
        [airflow, "dags", "reserialize"], env=env, check=True, capture_output=True, timeout=300
    )
    out = subprocess.run(
        [airflow, "dags", "list-import-errors"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0 and "No data found" in out.stdout, out.stdout + out.stderr
    listed = subprocess.run(
        [airflow, "dags", "list"], env=env, capture_output=True, text=True, timeout=300
    ).stdout
    for dag_id in ("penguins", "penguins_on_new_data", "penguins_data_drop"):
        assert dag_id in listed
