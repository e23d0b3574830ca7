"""The release gate: baseline comparison, no push of a worse model, shift by slice, rollback,
model cards and a report that renders in a real (headless) browser."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess

import pytest
from conftest import run_penguins, step, tfpipe

from tfpipe.components.artifacts import (
    ModelEvaluation,
    PushedModel,
    ServingDirectory,
    open_artifact,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("release"))


@pytest.fixture(scope="module")
def good(home) -> dict:
    record = run_penguins(home)
    assert record["status"] == "succeeded" and step(record, "pusher")["summary"]["pushed"]
    return record


@pytest.fixture(scope="module")
def worse(home, good) -> dict:
    record = run_penguins(home, {"train_steps": 20})
    assert record["status"] == "succeeded", record
    return record


def serving(home: str) -> ServingDirectory:
    return ServingDirectory(os.path.join(home, "serving"), "penguins")


def versions(home: str) -> list[int]:
    return serving(home).versions()


def test_pushed_model_carries_a_model_card_and_a_raw_features_signature(home, good):
    import tensorflow as tf

    pushed = step(good, "pusher")["summary"]["destination"]
    card = serving(home).card(step(good, "pusher")["summary"]["version"])
    assert card["data"]["examples_fingerprint"] == step(good, "example_gen")["fingerprint"]
    assert card["training"]["backend"] == "keras" and card["training"]["parameters"]
    assert card["evaluation"]["metrics"]["accuracy"] >= 0.9
    assert "island" in card["evaluation"]["slices"]
    assert open_artifact(step(good, "pusher")["uri"], PushedModel).card() == {
        **card,
        "version": step(good, "pusher")["summary"]["version"],
        "destination": pushed,
    }
    raw = tf.saved_model.load(pushed).signatures["serving_raw"]
    out = raw(
        island=tf.constant(["Biscoe"]),
        bill_length_mm=tf.constant([47.5]),
        bill_depth_mm=tf.constant([15.0]),
        flipper_length_mm=tf.constant([217], tf.int64),
        body_mass_g=tf.constant([5200], tf.int64),
        sex=tf.constant(["male"]),
        year=tf.constant([2008], tf.int64),
    )
    assert out["classes"].numpy().tolist() == [b"Gentoo"]


def test_a_worse_model_is_not_blessed_not_pushed_and_the_report_says_why(home, good, worse):
    before = versions(home)
    evaluator = step(worse, "evaluator")["summary"]
    assert evaluator["blessed"] is False
    failed = evaluator["failed_baseline_checks"]
    assert failed and failed[0]["metric"] == "accuracy" and failed[0]["worsening"] > 0.02
    pusher = step(worse, "pusher")["summary"]
    assert pusher["pushed"] is False and "worse than the baseline" in pusher["reason"]
    assert versions(home) == before
    report = open(worse["report"]).read()
    assert "NOT BLESSED" in report and "FAIL" in report and "worse than the baseline" in report


def test_changed_distribution_shows_as_shift_in_the_sliced_metrics(
    home, good, penguins_csv, tmp_path
):
    drifted = tmp_path / "biscoe_only.csv"
    with open(penguins_csv) as src, open(drifted, "w", newline="") as dst:
        rows = list(csv.DictReader(src))
        out = csv.DictWriter(dst, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(r for r in rows if r["island"] == "Biscoe")
    record = run_penguins(home, {"data": str(drifted)})
    assert record["status"] == "succeeded", record
    evaluation = open_artifact(step(record, "evaluator")["uri"], ModelEvaluation).evaluation()
    shift = evaluation["baseline"]["shift"]["island"]
    assert shift["Biscoe"]["share_now"] == 1.0 and shift["Biscoe"]["share_then"] < 0.7
    assert shift["Dream"]["share_now"] == 0.0 and shift["Dream"]["share_then"] > 0.2
    report = open(record["report"]).read()
    assert "Data shift since the pushed model was evaluated" in report


def test_rollback_restores_the_previous_version_as_the_served_one(home, good):
    if len(versions(home)) < 2:
        again = run_penguins(home, {"trainer.seed": 7})
        assert step(again, "pusher")["summary"]["pushed"], again
    before = versions(home)
    out = tfpipe("rollback", "penguins", home=home).stdout
    after = versions(home)
    assert after == before[:-1] and f"now serving version {before[-2]}" in out
    assert serving(home).rolled_back() == [before[-1]]


def test_every_run_that_executed_has_a_report_and_it_renders_in_chromium(home, worse, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is missing: `make system-deps` installs it"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    url = "file://" + worse["report"]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120
    ).stdout
    plots = len(re.findall(r'<img class="plot"', dom))
    loaded = re.search(r'data-plots-loaded="(\d+)"', dom)
    assert plots >= 6, plots  # DAG, curves, 2 slice plots, confusion matrix, calibration
    assert loaded and int(loaded.group(1)) == plots  # every plot decoded in the browser
    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium, *flags, "--window-size=1200,2400", f"--screenshot={shot}", url],
        capture_output=True,
        timeout=120,
    )
    assert shot.stat().st_size > 50_000
