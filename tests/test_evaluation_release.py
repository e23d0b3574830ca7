"""The release gate: baseline comparison, no push of a worse model, shift by slice, rollback,
model cards and a report that renders in a real (headless) browser."""

from __future__ import annotations

import csv
import os
import shutil

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
    """The page, opened from disk in Chromium, shows every plot under its own policy (which
    allows no script: the page needs none)."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is missing: `make system-deps` installs it"
    flags = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=flags)
        page = browser.new_page(viewport={"width": 1200, "height": 2400})
        blocked: list[str] = []
        page.on("console", lambda m: blocked.append(m.text) if "Content Security" in m.text else 0)
        page.goto("file://" + worse["report"])
        plots = page.locator("img.plot")
        decoded = page.evaluate(
            "() => Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length"
        )
        assert plots.count() >= 6, plots.count()  # DAG, curves, 2 slices, confusion, calibration
        assert decoded == plots.count()  # every plot decoded in the browser
        assert blocked == []  # its own style and images are what its policy allows
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot))
        browser.close()
    assert shot.stat().st_size > 50_000
