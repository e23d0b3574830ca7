"""The example pipeline end to end: pushed model serves raw rows; re-runs are fully cached."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO, run_penguins, step, tfpipe
from scoring_support import (
    assert_passthrough,
    assert_predictions_match,
    read_output,
    read_rows,
    served_outputs,
)

from tfpipe.components.artifacts import Model, open_artifact
from tfpipe.pipelines.local_runner import run_pipeline
from tfpipe.pipelines.registry import load_pipeline

pytestmark = pytest.mark.slow

SPECIES = {"Adelie", "Chinstrap", "Gentoo"}
ACCURACY_BOUND = 0.9  # the pipeline's own blessing threshold; ~0.97 is typical


def pushed_dir(record: dict) -> str:
    summary = step(record, "pusher")["summary"]
    assert summary["pushed"] is True, summary
    return summary["destination"]


def test_modern_run_pushes_a_model_that_serves_raw_examples(modern_run):
    from serving import load_serving, raw_example

    home, record = modern_run
    assert [s["status"] for s in record["steps"]] == ["executed"] * 6
    destination = pushed_dir(record)
    # TensorFlow Serving layout: <base>/<name>/<integer version>/saved_model.pb
    assert os.path.dirname(destination) == os.path.join(home, "serving", "penguins")
    assert os.path.basename(destination).isdigit()
    assert os.path.isfile(os.path.join(destination, "saved_model.pb"))

    serve = load_serving(destination)
    rows = [
        # A typical Gentoo and a typical Adelie, then rows with fields missing.
        dict(
            island="Biscoe",
            bill_length_mm=47.5,
            bill_depth_mm=15.0,
            flipper_length_mm=217,
            body_mass_g=5200,
            sex="male",
            year=2008,
        ),
        dict(
            island="Torgersen",
            bill_length_mm=38.6,
            bill_depth_mm=21.2,
            flipper_length_mm=191,
            body_mass_g=3800,
            sex="male",
            year=2007,
        ),
        dict(
            island="Dream",
            bill_length_mm=None,
            bill_depth_mm=18.0,
            flipper_length_mm=None,
            body_mass_g=None,
            sex=None,
            year=None,
        ),
        dict(),
    ]
    out = serve(examples=[raw_example(r) for r in rows])
    classes = [c.decode() for c in out["classes"].numpy()]
    assert classes[0] == "Gentoo" and classes[1] == "Adelie", classes
    assert set(classes) <= SPECIES
    probabilities = out["probabilities"].numpy()
    assert probabilities.shape == (4, 3)
    assert abs(probabilities.sum(axis=1) - 1).max() < 1e-4


def test_modern_run_accuracy_on_eval_split_through_the_served_model(modern_run):
    from serving import served_accuracy

    _home, record = modern_run
    accuracy = served_accuracy(pushed_dir(record), step(record, "example_gen")["uri"], "species")
    assert accuracy >= ACCURACY_BOUND
    evaluator = step(record, "evaluator")["summary"]
    assert evaluator["blessed"] is True
    assert abs(evaluator["metrics"]["accuracy"] - accuracy) < 1e-6


def test_manifests_record_lineage_parameters_and_fingerprints(modern_run):
    _, record = modern_run
    by_step = {s["step"]: s for s in record["steps"]}
    model = open_artifact(by_step["trainer"]["uri"], Model)
    trainer = model.manifest
    assert trainer["type"] == "Model"
    assert trainer["fingerprint"] == by_step["trainer"]["fingerprint"]
    assert trainer["inputs"]["transform"]["fingerprint"] == by_step["transform"]["fingerprint"]
    assert trainer["parameters"]["train_steps"] == 1000
    assert trainer["summary"]["backend"] == "keras"
    assert trainer["runtime"].startswith("modern@")
    assert os.listdir(model.logs_dir)  # TensorBoard summaries
    assert os.listdir(model.checkpoints_dir)
    lineage = model.lineage()
    assert (
        lineage["inputs"]["transform"]["inputs"]["examples"]["fingerprint"]
        == (by_step["example_gen"]["fingerprint"])
    )


def test_second_run_executes_nothing_and_imports_no_tensorflow(modern_run):
    home, _ = modern_run
    code = (
        "import sys; from tfpipe.pipelines.cli import main; "
        "rc = main(['--home', sys.argv[1], 'run', "
        "'penguins']); assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'; "
        "sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, home], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all 6 steps cached: nothing to execute" in proc.stdout
    assert "(0 executed, 6 cached)" in proc.stdout


def test_changed_parameter_reexecutes_only_downstream_steps(modern_run, tmp_path):
    home, _record = modern_run
    again = run_penguins(home, {"trainer.train_steps": 200})
    assert again["status"] == "succeeded"
    statuses = {s["step"]: s["status"] for s in again["steps"]}
    assert statuses == {
        "example_gen": "cached",
        "example_validator": "cached",
        "transform": "cached",
        "trainer": "executed",
        "evaluator": "executed",
        "pusher": "executed",
    }
    assert step(again, "trainer")["summary"]["steps"] == 200


def test_cli_run_show_and_runs(modern_run):
    home, record = modern_run
    shown = tfpipe("show", record["run_id"], home=home).stdout
    assert "pusher" in shown and "succeeded" in shown
    listed = tfpipe("runs", home=home).stdout
    assert record["run_id"][:10] in listed


@pytest.mark.estimator
def test_estimator_runtime_runs_the_pipeline_end_to_end(tmp_path, penguins_csv):
    from serving import served_accuracy

    home = str(tmp_path)
    record = run_penguins(home, {"runtime": "estimator"})
    assert record["status"] == "succeeded", record
    assert record["runtime"] == "estimator"
    manifest = open_artifact(step(record, "trainer")["uri"]).manifest
    assert manifest["runtime"].startswith("estimator@")
    # A model trained on TF 2.15 is served by TF 2.21 here: the SavedModel contract is portable.
    accuracy = served_accuracy(pushed_dir(record), step(record, "example_gen")["uri"], "species")
    assert accuracy >= ACCURACY_BOUND
    # Batch scoring on the estimator runtime (TF 2.15, pyarrow 10) writes what serving_default
    # gives for the same rows.
    scoring = load_pipeline("scoring:penguins", home).with_overrides(
        {"runtime": "estimator", "output_format": "csv"}
    )
    scored = run_pipeline(scoring, home)
    assert scored["status"] == "succeeded", scored.get("error")
    rows = read_rows(penguins_csv)
    table = read_output(scored["steps"][0]["uri"], "csv")
    assert_passthrough(table, rows, ["island", "sex", "year"])
    assert_predictions_match(table, served_outputs(pushed_dir(record), rows))
