"""Batch scoring (issue 19): ``tfpipe score`` and the ``bulk_inferrer`` component on the penguins
model the session's pipeline run pushed. The output files are read back with pyarrow and checked
against ``serving_default`` called directly on the same rows; passthrough columns must be the
input's, row for row. Also: the model in a pipeline (Examples in, TFRecords out), unblessed models
refused, ExampleGen's errors for bad rows, a kill before the commit, a cached re-score."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO, component_invocation, step, tfpipe
from scoring_support import (
    assert_passthrough,
    assert_predictions_match,
    read_output,
    read_rows,
    served_outputs,
)

from tfpipe.components.artifacts import ServingDirectory, is_committed, open_artifact
from tfpipe.components.core.errors import InputDataError
from tfpipe.pipelines.definition import Step
from tfpipe.pipelines.home import serving_base
from tfpipe.pipelines.local_runner import run_pipeline
from tfpipe.pipelines.registry import load_pipeline

pytestmark = pytest.mark.slow
PASSTHROUGH = ["row_id", "island", "year"]


def write_drop(source: str, path: str, rows: slice = slice(None)) -> str:
    """A data drop: the penguins rows with a text id in front (leading zeros must survive)."""
    with open(source, newline="") as f:
        header, *lines = list(csv.reader(f))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["row_id", *header])
        for i, line in enumerate(lines[rows]):
            writer.writerow([f"{i:06d}", *line])
    return path


def served_dir(home: str) -> str:
    serving = ServingDirectory(serving_base(home), "penguins")
    return serving.version_dir(serving.latest())


@pytest.fixture(scope="module")
def drop(modern_run, penguins_csv, tmp_path_factory) -> str:
    return write_drop(penguins_csv, str(tmp_path_factory.mktemp("drops") / "drop-1.csv"))


def test_score_writes_parquet_and_csv_that_match_serving_default_row_for_row(
    modern_run, drop, tmp_path
):
    home, _ = modern_run
    rows = read_rows(drop, text_columns=("row_id",))
    expected = served_outputs(served_dir(home), rows)
    for fmt in ("parquet", "csv"):
        out = str(tmp_path / f"scores-{fmt}")
        proc = tfpipe(
            "score",
            "penguins",
            "--data",
            drop,
            "--out",
            out,
            "--passthrough",
            ",".join(PASSTHROUGH),
            "--format",
            fmt,
            home=home,
        )
        assert f"scored {len(rows)} rows" in proc.stdout and f"→ written to {out}" in proc.stdout
        table = read_output(out, fmt, text_columns=("row_id",))
        assert_passthrough(table, rows, PASSTHROUGH)
        assert table.column("row_id").to_pylist()[:2] == ["000000", "000001"]
        assert_predictions_match(table, expected)
        scored = open_artifact(out)
        assert (
            scored.summary["model_version"]
            == ServingDirectory(serving_base(home), "penguins").latest()
        )
        assert scored.manifest["copied_from"] != out  # a committed copy of the stored artifact


def test_a_cached_rescore_runs_nothing_and_imports_no_tensorflow(modern_run, drop, tmp_path):
    """(Its speed, ~0.3 s, is measured by benchmarks/bulk_score_bench.py, not asserted here.)"""
    home, _ = modern_run
    out = str(tmp_path / "scores")
    args = ["--home", home, "score", "penguins", "--data", drop, "--out", out]
    tfpipe(*args[2:], home=home)  # scored (or found cached) and delivered
    code = (
        "import json, sys\n"
        "from tfpipe.pipelines.cli import main\n"
        "rc = main(json.loads(sys.argv[1]))\n"
        "print(json.dumps({'rc': rc, 'tensorflow': 'tensorflow' in sys.modules}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["rc"] == 0 and not result["tensorflow"], proc.stdout + proc.stderr
    assert "all 1 steps cached" in proc.stdout and "already in" in proc.stdout


def test_this_runs_model_scores_an_examples_artifact_into_tfrecords(modern_run):
    home, _ = modern_run
    base = load_pipeline("penguins", home)
    scoring = Step(
        "bulk_inferrer",
        "bulk_inferrer",
        {"split": "eval", "passthrough": ["species", "island"], "output_format": "tfrecord"},
        {"examples": "example_gen", "model": "trainer", "evaluation": "evaluator"},
    )
    pipeline = dataclasses.replace(base, steps=(*base.steps, scoring))
    record = run_pipeline(pipeline, home)
    assert record["status"] == "succeeded", record.get("error")
    result = step(record, "bulk_inferrer")
    assert result["status"] == "executed" and result["summary"]["model_version"] is None
    examples = open_artifact(step(record, "example_gen")["uri"])
    rows = _example_rows(examples.split_files("eval"))
    table = read_output(result["uri"], "tfrecord")
    assert_passthrough(table, rows, ["species", "island"])
    model = open_artifact(step(record, "trainer")["uri"])
    assert_predictions_match(table, served_outputs(model.serving_dir, rows))
    # The report shows the batch size each scoring step chose (Evaluator and Bulk Inferrer).
    report = open(record["report"]).read()
    assert "Batch scoring" in report and report.count("class='batch-plan'") == 2


def _example_rows(files: list[str]) -> list[dict]:
    import tensorflow as tf

    rows = []
    for record in tf.data.TFRecordDataset(files):
        example = tf.train.Example.FromString(record.numpy())
        row = {}
        for name, feature in example.features.feature.items():
            value = next(iter(getattr(feature, feature.WhichOneof("kind")).value))
            row[name] = value.decode() if isinstance(value, bytes) else value
        rows.append(row)
    return rows


def test_an_unblessed_model_is_refused_naming_it(modern_run, penguins_csv, tmp_path):
    home, _ = modern_run
    base = load_pipeline("penguins", home).with_overrides(
        {"evaluator.thresholds": {"accuracy": {"lower": 0.999999}, "auc": {"lower": 1.5}}}
    )
    scoring = Step(
        "bulk_inferrer",
        "bulk_inferrer",
        {"data": penguins_csv},
        {"model": "trainer", "evaluation": "evaluator"},
    )
    record = run_pipeline(dataclasses.replace(base, steps=(*base.steps, scoring)), home)
    refused = step(record, "bulk_inferrer")
    model = step(record, "trainer")["uri"]
    assert refused["status"] == "failed", refused
    assert f"model {model} is not blessed" in refused["error"] and "auc" in refused["error"]
    assert not step(record, "pusher")["summary"]["pushed"]

    # A served version that tfpipe's Pusher did not push (no model card) is refused at planning.
    serving = ServingDirectory(str(tmp_path / "serving"), "penguins")
    shutil.copytree(served_dir(home), serving.version_dir(7))
    os.remove(os.path.join(serving.version_dir(7), "assets.extra", "model_card.json"))
    params = {"data": penguins_csv, "serving_model_dir": serving.model_dir}
    with pytest.raises(InputDataError, match=r"version 7 of .*no model card.*allow_unblessed"):
        _plan(tmp_path, params)
    assert _plan(tmp_path, {**params, "allow_unblessed": True}).external.values[
        "model_version"
    ] == (7)


def _plan(tmp_path, params):
    return component_invocation("bulk_inferrer", str(tmp_path / "artifacts"), **params)


def score(home: str, data: str, **overrides) -> dict:
    pipeline = load_pipeline("scoring:penguins", home).with_overrides({"data": data, **overrides})
    return run_pipeline(pipeline, home)


def test_bad_rows_get_example_gen_errors_naming_file_line_and_column(modern_run, drop, tmp_path):
    home, _ = modern_run
    lines = open(drop).read().splitlines()
    malformed = tmp_path / "malformed.csv"
    malformed.write_text("\n".join([*lines[:6], lines[6] + ",surplus", *lines[7:]]) + "\n")
    record = score(home, str(malformed))
    error = step(record, "bulk_inferrer")["error"]
    assert "malformed.csv' line 7: expected 9 fields, got 10" in error, error
    assert error.startswith("bulk_inferrer:") and "on_malformed" not in error

    header = lines[0].split(",")
    column = header.index("bill_length_mm")
    cells = lines[9].split(",")
    cells[column] = "long"
    text = tmp_path / "text_in_number.csv"
    text.write_text("\n".join([*lines[:9], ",".join(cells), *lines[10:]]) + "\n")
    record = score(home, str(text))
    error = step(record, "bulk_inferrer")["error"]
    assert "text_in_number.csv' column 'bill_length_mm'" in error, error
    assert "line 10: 'long'" in error and "model's float feature" in error

    # A passthrough column the data lacks: refused when the run is planned, nothing executes.
    record = score(home, drop, passthrough=["row_id", "tag"])
    assert record["status"] == "failed" and "passthrough column(s) ['tag']" in record["error"]
    assert record["steps"][0]["status"] == "not run"


def test_a_scorer_killed_before_its_commit_leaves_nothing_visible(
    modern_run, penguins_csv, tmp_path
):
    home, _ = modern_run
    drop = write_drop(penguins_csv, str(tmp_path / "drop-kill.csv"), slice(0, 300))
    out = str(tmp_path / "scores")
    artifacts = os.path.join(home, "penguins", "artifacts", "bulk_inferrer")
    before = set(os.listdir(artifacts)) if os.path.isdir(artifacts) else set()
    env = {**os.environ, "TFPIPE_FAULT": "commit:bulk_inferrer"}
    command = [os.path.join(REPO, "bin", "tfpipe"), "--home", home, "score", "penguins"]
    proc = subprocess.run(
        [*command, "--data", drop, "--out", out],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 1 and "killed by signal 9" in proc.stdout, proc.stdout
    visible = {e for e in os.listdir(artifacts) if not e.startswith(".")} - before
    assert visible == set()  # the staged payload and manifest were never renamed into place
    assert not os.path.exists(out) and not [e for e in os.listdir(tmp_path) if "scores" in e]
    again = tfpipe("score", "penguins", "--data", drop, "--out", out, home=home)
    assert "scored 300 rows" in again.stdout
    [new] = {e for e in os.listdir(artifacts) if not e.startswith(".")} - before
    assert is_committed(os.path.join(artifacts, new)) and is_committed(out)
    assert not [e for e in os.listdir(artifacts) if ".staging-" in e]  # the dead one was removed


def test_a_drops_own_columns_pass_through_and_trigger_data_stays_in_the_data_roots(
    modern_run, drop, tmp_path
):
    from tfpipe.pipelines.engine import plan

    home, _ = modern_run
    base = load_pipeline("penguins", home)
    scoring = Step(
        "bulk_inferrer",
        "bulk_inferrer",
        {"data": drop, "passthrough": ["row_id"]},
        {"model": "trainer", "evaluation": "evaluator"},
    )
    # row_id is the drop's column, not one the model was trained on: planning checks it against
    # the drop, not against the pipeline's training data.
    invocations = plan(dataclasses.replace(base, steps=(*base.steps, scoring)), home)
    assert invocations[-1].external.values["input_files"] == [drop]

    served = ServingDirectory(serving_base(home), "penguins").model_dir
    params = {"data": drop, "serving_model_dir": served}
    with pytest.raises(InputDataError, match="outside the data roots"):
        _plan(tmp_path, {**params, "data_roots": [str(tmp_path / "landing")]})
    inside = _plan(tmp_path, {**params, "data_roots": [os.path.dirname(drop)]})
    assert inside.external.values["input_files"] == [drop]
