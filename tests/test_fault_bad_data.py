"""Fault table, row 1: bad data. Missing and empty files, rows with the wrong number of fields,
an unclosed quote, bytes that are not UTF-8, columns that do not match the contract: each fails
the run with a message naming the file, line and column, and nothing half-written becomes
visible; or, with ``on_malformed=skip``, the rows are set aside in the artifact up to a bound.
Text in a number column, all-null columns and the other contract checks are in
tests/test_data_validation.py (they stop the run at the validator, naming the first row)."""

from __future__ import annotations

import csv
import os

import pytest
from conftest import run_penguins, step

from tfpipe.components.artifacts import Examples, is_committed, open_artifact

pytestmark = pytest.mark.slow


def committed_or_partial(home: str) -> dict[str, list[str]]:
    """Every directory under the artifact store, by step: each must hold a manifest."""
    root = os.path.join(home, "penguins", "artifacts")
    found: dict[str, list[str]] = {}
    if not os.path.isdir(root):
        return found
    for step_name in os.listdir(root):
        for entry in os.listdir(os.path.join(root, step_name)):
            found.setdefault(step_name, []).append(entry)
            assert is_committed(os.path.join(root, step_name, entry)), (
                f"partial artifact visible: {step_name}/{entry}"
            )
    return found


def test_missing_input_file_names_the_path(tmp_path):
    missing = str(tmp_path / "nowhere" / "penguins.csv")
    record = run_penguins(str(tmp_path), {"example_gen.input": missing})
    assert record["status"] == "failed"
    assert missing in record["error"] and "matches no file" in record["error"]
    assert committed_or_partial(str(tmp_path)) == {}


def test_empty_csv_names_the_file(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    record = run_penguins(str(tmp_path), {"example_gen.input": str(empty)})
    assert record["status"] == "failed"
    failed = step(record, "example_gen")
    assert str(empty) in failed["error"] and "empty" in failed["error"]
    assert [s["status"] for s in record["steps"][1:]] == ["not run"] * 5
    assert committed_or_partial(str(tmp_path)) == {}


def test_csv_with_columns_that_do_not_match_the_schema_names_the_columns(tmp_path, penguins_csv):
    drifted = tmp_path / "drifted.csv"
    lines = open(penguins_csv).read().splitlines()
    header = lines[0].replace("bill_length_mm", "bill_len")
    drifted.write_text("\n".join([header, *lines[1:]]) + "\n")
    record = run_penguins(str(tmp_path), {"example_gen.input": str(drifted)})
    assert record["status"] == "failed"
    error = record["error"]  # the validator stops the run, naming both columns
    assert "bill_length_mm: missing_column" in error and "bill_len: new_column" in error
    assert "contract" in error
    assert "transform" not in committed_or_partial(str(tmp_path))


def test_malformed_row_names_file_and_line(tmp_path, penguins_csv):
    bad = tmp_path / "bad.csv"
    lines = open(penguins_csv).read().splitlines()
    lines.insert(5, "Adelie,Torgersen,39.1")
    bad.write_text("\n".join(lines) + "\n")
    record = run_penguins(str(tmp_path), {"example_gen.input": str(bad)})
    error = step(record, "example_gen")["error"]
    assert str(bad) in error and "line 6" in error and "expected 8 fields" in error


def with_line(penguins_csv: str, at: int, line: bytes) -> bytes:
    lines = open(penguins_csv, "rb").read().splitlines()
    lines.insert(at, line)
    return b"\n".join(lines) + b"\n"


def test_non_utf8_bytes_name_file_line_and_column(tmp_path, penguins_csv):
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(with_line(penguins_csv, 5, b"Adelie,Torg\xe9rsen,39.1,18.7,181,3750,male,2007"))
    record = run_penguins(str(tmp_path), {"example_gen.input": str(bad)})
    error = step(record, "example_gen")["error"]
    assert f"'{bad}' line 6, column 'island': not UTF-8" in error, error
    assert committed_or_partial(str(tmp_path)) == {}


def test_an_unclosed_quote_names_the_line(tmp_path, penguins_csv):
    bad = tmp_path / "quote.csv"
    bad.write_bytes(with_line(penguins_csv, 5, b'Adelie,"Torgersen,39.1,18.7,181,3750,male,2007'))
    record = run_penguins(str(tmp_path), {"example_gen.input": str(bad)})
    error = step(record, "example_gen")["error"]
    assert f"'{bad}' line 6: expected 8 fields" in error, error


def test_skipped_malformed_rows_are_kept_in_the_artifact_up_to_a_bound(tmp_path, penguins_csv):
    bad = tmp_path / "short.csv"
    bad.write_bytes(with_line(penguins_csv, 5, b"Adelie,Torgersen,39.1"))
    skip = {"example_gen.input": str(bad), "example_gen.on_malformed": "skip"}
    record = run_penguins(str(tmp_path / "a"), {**skip, "trainer.train_steps": 50})
    made = step(record, "example_gen")
    assert made["status"] == "executed" and made["summary"]["rejected_rows"] == 1
    examples = open_artifact(made["uri"], Examples)
    with open(examples.rejected_path, newline="") as f:
        rejected = list(csv.DictReader(f))
    assert rejected == [
        {
            "file": "short.csv",
            "line": "6",
            "reason": "expected 8 fields, got 3",
            "text": "Adelie,Torgersen,39.1",
        }
    ]
    # One bad row in 345 is over a 0.1 % bound: the run fails and says which knob to turn.
    strict = run_penguins(str(tmp_path / "b"), {**skip, "example_gen.max_rejected_fraction": 0.001})
    error = step(strict, "example_gen")["error"]
    assert "1 of 345 rows are malformed" in error and "max_rejected_fraction" in error
    # No step artifact; the drop itself is a complete conversion, kept for the next window.
    left = committed_or_partial(str(tmp_path / "b"))
    assert list(left) == ["example_gen.drop"] and len(left["example_gen.drop"]) == 1
