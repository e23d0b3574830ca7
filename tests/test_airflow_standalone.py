"""A real ``airflow standalone``: REST triggers, asset-driven runs, concurrency, kill-and-retry."""

from __future__ import annotations

import glob
import os
import re
import signal
import subprocess
import time

import pytest
from airflow_support import Standalone, airflow_env

from components.artifacts import open_artifact

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = airflow_env(str(tmp_path_factory.mktemp("standalone")))
    standalone = Standalone(env)
    try:
        standalone.wait_ready()
        for dag_id in ("penguins", "penguins_on_new_data", "penguins_data_drop"):
            standalone.wait_for_dag(dag_id)
        # Unpausing the daily DAG starts its latest scheduled run: let it finish first, so each
        # test sees a quiet server (a concurrent push would rightly refuse the tests' pushes).
        standalone.wait_for_scheduled_runs("penguins")
        yield standalone
    finally:
        standalone.stop()


def artifacts(server: Standalone, step: str) -> list[str]:
    return os.listdir(os.path.join(server.env["TFPIPE_HOME"], "penguins", "artifacts", step))


def test_rest_triggered_run_succeeds_and_announces_the_pushed_model(server):
    run_id = server.trigger("penguins", {"train_steps": 60, "min_accuracy": 0.5})
    run = server.wait_run("penguins", run_id)
    assert run["state"] == "success", server.task_instances("penguins", run_id)
    trainer = server.xcom("penguins", run_id, "trainer")
    assert trainer["summary"]["steps"] == 60
    pusher = server.xcom("penguins", run_id, "pusher")
    assert pusher["summary"]["pushed"] is True
    events = server.request(
        "GET", f"/api/v2/assets/events?asset_id={server.asset_id('penguins_pushed_model')}"
    )["asset_events"]
    assert any(e["extra"].get("version") == pusher["summary"]["version"] for e in events)


def test_invalid_rest_conf_is_refused_and_creates_no_run(server):
    before = server.request("GET", "/api/v2/dags/penguins/dagRuns")["total_entries"]
    server.request(
        "POST",
        "/api/v2/dags/penguins/dagRuns",
        {"logical_date": None, "conf": {"train_steps": "many"}},
        expect=(400,),
    )
    after = server.request("GET", "/api/v2/dags/penguins/dagRuns")["total_entries"]
    assert after == before


def test_an_asset_event_from_outside_starts_the_retraining_dag(server, penguins_csv, tmp_path):
    drop = tmp_path / "drop-1.csv"
    drop.write_text(open(penguins_csv).read())
    asset_id = server.asset_id("penguins_data")
    server.request(
        "POST",
        "/api/v2/assets/events",
        {
            "asset_id": asset_id,
            "extra": {"data": str(drop), "train_steps": 40, "min_accuracy": 0.5},
        },
    )
    deadline = time.monotonic() + 120
    runs: list = []
    while time.monotonic() < deadline and not runs:
        runs = server.request("GET", "/api/v2/dags/penguins_on_new_data/dagRuns")["dag_runs"]
        time.sleep(2)
    assert runs, "no run of penguins_on_new_data after the asset event"
    run = server.wait_run("penguins_on_new_data", runs[0]["dag_run_id"])
    assert run["state"] == "success"
    example_gen = server.xcom("penguins_on_new_data", runs[0]["dag_run_id"], "example_gen")
    manifest = open_artifact(example_gen["uri"]).manifest
    assert manifest["parameters"]["input"] == str(drop)  # the run trained on the dropped file


def test_two_concurrent_runs_both_succeed_with_separate_artifacts(server):
    first = server.trigger("penguins", {"train_steps": 70, "min_accuracy": 0.5})
    second = server.trigger("penguins", {"train_steps": 80, "min_accuracy": 0.5})
    assert server.wait_run("penguins", first)["state"] == "success"
    assert server.wait_run("penguins", second)["state"] == "success"
    a = server.xcom("penguins", first, "trainer")
    b = server.xcom("penguins", second, "trainer")
    assert a["uri"] != b["uri"] and {a["summary"]["steps"], b["summary"]["steps"]} == {70, 80}
    # Shared upstream work was reused by fingerprint, not duplicated.
    assert (
        server.xcom("penguins", first, "transform")["uri"]
        == server.xcom("penguins", second, "transform")["uri"]
    )


def test_a_task_killed_mid_run_is_retried_and_leaves_no_partial_artifact(server):
    run_id = server.trigger("penguins", {"train_steps": 20000, "min_accuracy": 0.5})
    deadline = time.monotonic() + 240
    killed = None
    while time.monotonic() < deadline and killed is None:
        pattern = f"components trainer .*--run-id {re.escape(run_id)}"
        found = subprocess.run(
            ["pgrep", "-f", pattern], capture_output=True, text=True
        ).stdout.split()
        scratch = glob.glob(
            os.path.join(
                server.env["TFPIPE_HOME"],
                "penguins",
                "scratch",
                "trainer",
                "*",
                "checkpoints",
                "epoch-0003*",
            )
        )
        if found and scratch:
            killed = int(found[0])
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.2)
    assert killed, "the trainer never reached its third checkpoint"
    run = server.wait_run("penguins", run_id, timeout=900)
    assert run["state"] == "success"
    trainer = server.task_instances("penguins", run_id)["trainer"]
    assert trainer["try_number"] >= 2  # failed once, retried
    summary = server.xcom("penguins", run_id, "trainer")["summary"]
    assert summary["resumed_from_step"] >= 300  # the retry resumed from the checkpoint
    entries = artifacts(server, "trainer")
    assert not [e for e in entries if ".staging-" in e]
    assert entries.count(os.path.basename(server.xcom("penguins", run_id, "trainer")["uri"])) == 1
