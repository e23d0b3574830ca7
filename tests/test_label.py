"""The label is said once, by the pipeline; a column the data does not have is refused before
Transform runs, never after training."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import step

from tfpipe import Label, ParameterError
from tfpipe.pipelines.engine import plan
from tfpipe.pipelines.local_runner import run_pipeline
from tfpipe.pipelines.registry import load_pipeline


def test_every_step_takes_the_pipelines_label_and_disagreement_is_refused(tmp_path):
    home = str(tmp_path)
    pipeline = load_pipeline("penguins", home)
    assert pipeline.label == Label("label", column="species", vocabulary="species")
    invocations = {inv.step: inv for inv in plan(pipeline, home)}
    trainer, evaluator = invocations["trainer"].params, invocations["evaluator"].params
    assert (trainer.label, trainer.raw_label, trainer.label_vocabulary) == (
        "label",
        "species",
        "species",
    )
    assert evaluator.label == "species"
    with pytest.raises(ParameterError, match=r"trainer.raw_label 'sex' disagrees with the pipe"):
        pipeline.with_overrides({"trainer.raw_label": "sex"})
    # A label derived in preprocessing_fn: the evaluator reads the model's own label.
    derived = dataclasses.replace(pipeline, label=Label("label"))
    evaluator = {inv.step: inv for inv in plan(derived, home)}["evaluator"].params
    assert evaluator.label is None


@pytest.mark.parametrize(
    "change,named",
    [
        ({"label": Label("label", column="variety", vocabulary="species")}, "trainer.raw_label"),
        ({"overrides": {"evaluator.slice_by": ["islnd"]}}, "evaluator.slice_by"),
    ],
    ids=["label-column", "slice-column"],
)
def test_a_column_the_data_lacks_is_refused_before_transform_runs(tmp_path, change, named):
    """Without a contract, the columns are known once ExampleGen has read the data."""
    home = str(tmp_path)
    no_contract = {"example_gen.schema_file": None, **change.get("overrides", {})}
    pipeline = load_pipeline("penguins", home).with_overrides(no_contract)
    if "label" in change:
        pipeline = dataclasses.replace(pipeline, label=change["label"])
    record = run_pipeline(pipeline, home)
    assert record["status"] == "failed"
    assert step(record, "example_gen")["status"] == "executed"
    error = record["error"]
    wrong = "variety" if "label" in change else "islnd"
    assert f"{named} names '{wrong}', which is not a column of the data" in error, error
    assert "the data's columns: bill_depth_mm, bill_length_mm" in error
    if wrong == "islnd":
        assert "(did you mean 'island'?)" in error
    assert step(record, "transform")["status"] == "not run"
    # Planned again now that ExampleGen is committed: refused at planning, nothing runs.
    again = run_pipeline(pipeline, home)
    assert again["status"] == "failed" and named in again["error"]
    assert all(s["status"] == "not run" for s in again["steps"]), again["steps"]


def test_a_contract_names_the_columns_before_any_data_is_read(tmp_path):
    home = str(tmp_path)
    pipeline = load_pipeline("penguins", home).with_overrides(
        {"evaluator.slice_by": ["islands"]}  # penguins' contract (schema.pbtxt) has "island"
    )
    record = run_pipeline(pipeline, home)
    assert record["status"] == "failed"
    assert "evaluator.slice_by names 'islands', which is not a column" in record["error"]
    assert "(did you mean 'island'?)" in record["error"]
    assert all(s["status"] == "not run" for s in record["steps"])  # refused at planning
