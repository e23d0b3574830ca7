"""The data contract: each anomaly kind, built into real data, is listed (column, expected, found,
rows affected) and stops the run before Transform; an allowed anomaly lets it through; columns
are encoded with the contract's types; drift against the served model's data is measured."""

from __future__ import annotations

import csv
import io
import os

import pytest
from conftest import REPO, run_penguins, step

from tfpipe.components.artifacts import Examples, ExampleValidation, open_artifact

CONTRACT = os.path.join(REPO, "pipelines", "penguins", "schema.pbtxt")


def rows(penguins_csv: str) -> list[dict[str, str]]:
    with open(penguins_csv, newline="") as f:
        return list(csv.DictReader(f))


def write(path, data: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(data[0]))
    writer.writeheader()
    writer.writerows(data)
    path.write_text(out.getvalue())
    return str(path)


def validate(home: str, data: str, **overrides) -> tuple[dict, list[dict]]:
    record = run_penguins(home, {"data": data, **overrides})
    report = open_artifact(step(record, "example_validator")["uri"], ExampleValidation).report()
    return record, report["anomalies"]


def assert_stopped_before_transform(record: dict, column: str, kind: str) -> None:
    assert record["status"] == "failed"
    assert f"{column}: {kind}" in record["error"] and "stopped the run" in record["error"]
    assert step(record, "transform")["status"] == "not run"
    assert step(record, "trainer")["status"] == "not run"


def only(anomalies: list[dict], kind: str) -> dict:
    found = [a for a in anomalies if a["kind"] == kind]
    assert len(found) == 1, anomalies
    return found[0]


def test_missing_and_new_columns(tmp_path, penguins_csv):
    data = [
        {("bill_len" if k == "bill_length_mm" else k): v for k, v in r.items()}
        for r in rows(penguins_csv)
    ]
    record, anomalies = validate(str(tmp_path), write(tmp_path / "d.csv", data))
    missing, new = only(anomalies, "missing_column"), only(anomalies, "new_column")
    assert missing["column"] == "bill_length_mm" and missing["rows_affected"] == 344
    assert new["column"] == "bill_len"
    assert_stopped_before_transform(record, "bill_length_mm", "missing_column")


def test_text_in_a_number_column_is_a_type_change(tmp_path, penguins_csv):
    data = rows(penguins_csv)
    data[10]["flipper_length_mm"] = "long"
    record, anomalies = validate(str(tmp_path), write(tmp_path / "d.csv", data))
    changed = only(anomalies, "type_changed")
    assert (changed["column"], changed["expected"]) == ("flipper_length_mm", "int")
    # The row is named (header = line 1, data[10] = line 12) and only it counts as affected.
    assert changed["found"] == "string, first at 'd.csv' line 12: 'long'", changed
    assert changed["rows_affected"] == 1
    assert_stopped_before_transform(record, "flipper_length_mm", "type_changed")


def test_a_column_with_no_value_in_any_row_is_an_empty_column(tmp_path, penguins_csv):
    data = rows(penguins_csv)
    for r in data:
        r["bill_length_mm"] = "NA"
    record, anomalies = validate(str(tmp_path), write(tmp_path / "d.csv", data))
    empty = only(anomalies, "empty_column")
    assert empty["column"] == "bill_length_mm" and empty["rows_affected"] == 344
    assert_stopped_before_transform(record, "bill_length_mm", "empty_column")


def test_a_float_column_that_arrives_all_integer_is_narrowed_and_still_encoded_as_float(
    tmp_path, penguins_csv
):
    data = rows(penguins_csv)
    for r in data:
        if r["bill_depth_mm"] != "NA":
            r["bill_depth_mm"] = str(round(float(r["bill_depth_mm"])))
    record, anomalies = validate(str(tmp_path), write(tmp_path / "d.csv", data))
    narrowed = only(anomalies, "type_narrowed")
    assert narrowed["column"] == "bill_depth_mm" and narrowed["rows_affected"] == 342
    assert_stopped_before_transform(record, "bill_depth_mm", "type_narrowed")
    examples = open_artifact(step(record, "example_gen")["uri"], Examples)
    assert examples.schema().column("bill_depth_mm").type == "float"  # the contract's type


def test_presence_below_the_contracts_minimum(tmp_path, penguins_csv):
    data = rows(penguins_csv)
    for r in data[:30]:
        r["island"] = "NA"
    record, anomalies = validate(str(tmp_path), write(tmp_path / "d.csv", data))
    low = only(anomalies, "presence_below")
    assert low["column"] == "island" and low["rows_affected"] == 30
    assert_stopped_before_transform(record, "island", "presence_below")


def test_values_outside_the_string_domain(tmp_path, penguins_csv):
    data = rows(penguins_csv)
    for r in data[:7]:
        r["island"] = "Atlantis"
    record, anomalies = validate(str(tmp_path), write(tmp_path / "d.csv", data))
    outside = only(anomalies, "out_of_domain")
    assert outside["column"] == "island" and outside["rows_affected"] == 7
    assert "Atlantis" in outside["found"]
    assert_stopped_before_transform(record, "island", "out_of_domain")


def test_numbers_outside_the_range_and_an_allowed_anomaly(tmp_path, penguins_csv):
    contract = (
        open(CONTRACT)
        .read()
        .replace(
            'name: "flipper_length_mm"\n  type: INT\n',
            'name: "flipper_length_mm"\n  type: INT\n'
            "  int_domain {\n    min: 170\n    max: 235\n  }\n",
        )
    )
    assert "int_domain" in contract
    (tmp_path / "schema.pbtxt").write_text(contract)
    data = rows(penguins_csv)
    data[0]["flipper_length_mm"] = "300"
    data[1]["flipper_length_mm"] = "12"
    path = write(tmp_path / "d.csv", data)
    home = str(tmp_path / "home")
    overrides = {"example_gen.schema_file": str(tmp_path / "schema.pbtxt")}
    record, anomalies = validate(home, path, **overrides)
    outside = only(anomalies, "out_of_range")
    assert outside["column"] == "flipper_length_mm" and outside["rows_affected"] == 2
    assert_stopped_before_transform(record, "flipper_length_mm", "out_of_range")
    allowed = run_penguins(
        home,
        {
            "data": path,
            **overrides,
            "example_validator.allow": ["flipper_length_mm:out_of_range"],
            "trainer.train_steps": 100,
            "evaluator.thresholds": {},
        },
    )
    assert allowed["status"] == "succeeded", allowed
    assert step(allowed, "example_gen")["status"] == "cached"
    assert step(allowed, "transform")["status"] == "executed"


@pytest.mark.slow
def test_drift_against_the_served_models_training_data(tmp_path, penguins_csv):
    home = str(tmp_path / "home")
    first = run_penguins(home)
    assert first["status"] == "succeeded" and step(first, "pusher")["summary"]["pushed"]
    biscoe = write(tmp_path / "b.csv", [r for r in rows(penguins_csv) if r["island"] == "Biscoe"])
    record = run_penguins(home, {"data": biscoe, "example_validator.drift_threshold": 0.3})
    report = open_artifact(step(record, "example_validator")["uri"], ExampleValidation).report()
    drift = report["drift"]["columns"]
    assert drift["island"] > 0.5 and drift["year"] < 0.3  # Biscoe only: about half the data moved
    assert record["status"] == "failed" and "island: drift" in record["error"]
