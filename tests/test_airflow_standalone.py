"""A real ``airflow standalone``: REST triggers, asset-driven runs, concurrency, kill-and-retry."""

from __future__ import annotations

import glob
import itertools
import os
import re
import signal
import subprocess
import time

import pytest
from airflow_support import Standalone, airflow_env

from tfpipe.components.artifacts import open_artifact
from tfpipe.pipelines.runs import RunLog, find_run, safe_run_id

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = airflow_env(str(tmp_path_factory.mktemp("standalone")))
    standalone = Standalone(env)
    try:
        standalone.wait_ready()
        for dag_id in ("penguins", "penguins_on_new_data", "penguins_data_drop"):
            standalone.wait_for_dag(dag_id)  # unpaused: the daily DAG's first run is tomorrow
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
    # New data (data is identified by content: the shipped file's bytes were trained on already).
    lines = open(penguins_csv).read().splitlines()
    drop.write_text("\n".join(lines[:-20]) + "\n")
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
    assert example_gen["summary"]["rows"] == len(lines) - 1 - 20


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
    # 30 checkpoints (one per 100 steps): the kill after the third leaves 27 to resume.
    run_id = server.trigger("penguins", {"train_steps": 3000, "min_accuracy": 0.5})
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


def new_runs(server: Standalone, dag_id: str, known: set[str], timeout: float = 120) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [r for r in server.runs(dag_id) if r["dag_run_id"] not in known]
        if runs:
            return runs
        time.sleep(2)
    return []


def test_two_data_drops_in_quick_succession_are_both_trained_on_once(
    server, penguins_csv, tmp_path
):
    rows = open(penguins_csv).read().splitlines()
    drops = []
    for i, part in enumerate((rows[1::2], rows[2::2])):  # both drops hold every species
        path = tmp_path / f"drop-{i}.csv"
        path.write_text("\n".join([rows[0], *part]) + "\n")
        drops.append(str(path))
    known = {r["dag_run_id"] for r in server.runs("penguins_on_new_data")}
    asset_id = server.asset_id("penguins_data")
    for path in drops:  # back to back, as a batch pipeline would announce two files
        server.request(
            "POST",
            "/api/v2/assets/events",
            {"asset_id": asset_id, "extra": {"data": path, "train_steps": 40, "min_accuracy": 0.5}},
        )
    # Airflow hands queued events to one run, or starts a run per event: either way, together
    # the runs train on each file exactly once.
    trained: dict[str, list[str]] = {}
    deadline = time.monotonic() + 600

    def files() -> list[str]:
        return sorted(f for inputs in trained.values() for f in inputs)

    while time.monotonic() < deadline and files() != sorted(drops):
        for run in new_runs(server, "penguins_on_new_data", known | set(trained)):
            run_id = run["dag_run_id"]
            assert server.wait_run("penguins_on_new_data", run_id)["state"] == "success"
            task = f"/api/v2/dags/penguins_on_new_data/dagRuns/{run_id}/taskInstances/example_gen"
            if server.request("GET", task)["state"] == "skipped":
                # Its drop was claimed by an earlier run (which Airflow may not have handed it
                # to): the run record says so and nothing was trained twice.
                record = RunLog(server.env["TFPIPE_HOME"], "penguins", run_id).record()
                assert record["status"] == "skipped" and "taken" in record["skipped"], record
                trained[run_id] = []
                continue
            example_gen = server.xcom("penguins_on_new_data", run_id, "example_gen")
            inputs = open_artifact(example_gen["uri"]).parameters["input"]
            trained[run_id] = [inputs] if isinstance(inputs, str) else list(inputs)
    assert files() == sorted(drops), trained  # every file, each once


def test_a_missing_data_file_fails_at_once_without_retries_naming_the_event_extra(server, tmp_path):
    known = {r["dag_run_id"] for r in server.runs("penguins_on_new_data")}
    missing = str(tmp_path / "never-landed.csv")
    server.request(
        "POST",
        "/api/v2/assets/events",
        {"asset_id": server.asset_id("penguins_data"), "extra": {"data": missing}},
    )
    runs = new_runs(server, "penguins_on_new_data", known)
    run = server.wait_run("penguins_on_new_data", runs[0]["dag_run_id"])
    assert run["state"] == "failed"
    task = server.task_instances("penguins_on_new_data", runs[0]["dag_run_id"])["example_gen"]
    assert task["state"] == "failed" and task["try_number"] == 1  # no retry: it cannot succeed
    record = find_run(server.env["TFPIPE_HOME"], safe_run_id(runs[0]["dag_run_id"]))
    error = next(s for s in record["steps"] if s["step"] == "example_gen")["error"]
    assert missing in error and "matches no file" in error
    assert [s["status"] for s in record["steps"][1:]] == ["not run"] * 5
    assert record["seconds"] > 0 and record["status"] == "failed"


def test_unknown_conf_keys_and_bad_event_extras_are_refused_before_a_run_exists(server):
    before = server.request("GET", "/api/v2/dags/penguins/dagRuns")["total_entries"]
    refused = r"unknown key .*trian_steps.*did you mean .*train_steps"
    with pytest.raises(AssertionError, match=refused):
        server.request(
            "POST",
            "/api/v2/dags/penguins/dagRuns",
            {"logical_date": None, "conf": {"trian_steps": 100}},
        )
    assert server.request("GET", "/api/v2/dags/penguins/dagRuns")["total_entries"] == before
    for extra, message in (
        ({"train_steps": "lots"}, "train_steps"),
        ({"data": "/etc/passwd"}, "outside the data roots"),
    ):
        with pytest.raises(AssertionError, match=message):
            server.request(
                "POST",
                "/api/v2/assets/events",
                {"asset_id": server.asset_id("penguins_data"), "extra": extra},
            )


def test_a_cached_run_emits_no_pushed_model_event_and_the_report_is_linked(server):
    asset = server.asset_id("penguins_pushed_model")
    first = server.trigger("penguins", {"train_steps": 100, "min_accuracy": 0.5})
    assert server.wait_run("penguins", first)["state"] == "success"
    events = server.request("GET", f"/api/v2/assets/events?asset_id={asset}")["total_entries"]
    again = server.trigger("penguins", {"train_steps": 100, "min_accuracy": 0.5})
    run = server.wait_run("penguins", again)
    assert run["state"] == "success"
    tasks = server.task_instances("penguins", again)
    assert tasks["pusher"]["state"] == "skipped" and tasks["trainer"]["state"] == "success"
    assert server.request("GET", f"/api/v2/assets/events?asset_id={asset}")["total_entries"] == (
        events
    )
    assert "tfpipe: succeeded" in (
        run.get("note")
        or server.request("GET", f"/api/v2/dags/penguins/dagRuns/{again}")["note"]
        or ""
    )
    status, page = server.get_text(f"/tfpipe/reports/penguins/{again}")
    assert status == 200 and "tfpipe run" in page


def test_a_data_drop_is_scored_with_the_model_its_retraining_pushed(server, penguins_csv, tmp_path):
    """Data drop → retraining → push → the scoring DAG re-scores that drop with the new version →
    a `penguins_predictions` event naming the files, which the consumer DAG reads."""
    from scoring_support import (
        assert_passthrough,
        assert_predictions_match,
        read_output,
        read_rows,
        served_outputs,
    )

    for dag_id in ("penguins_scoring", "penguins_predictions_consumer"):
        server.wait_for_dag(dag_id)
    # Adelie and Gentoo only: separable, so the model trained on it is right on its whole eval
    # split and is blessed over whatever an earlier test left served.
    rows = open(penguins_csv).read().splitlines()
    drop = tmp_path / "drop-scored.csv"
    drop.write_text("\n".join([rows[0], *[r for r in rows[1:] if "Chinstrap" not in r]]) + "\n")
    known = {d: {r["dag_run_id"] for r in server.runs(d)} for d in ("penguins_on_new_data",)}
    known_consumer = {r["dag_run_id"] for r in server.runs("penguins_predictions_consumer")}
    server.request(
        "POST",
        "/api/v2/assets/events",
        {
            "asset_id": server.asset_id("penguins_data"),
            "extra": {"data": str(drop), "min_accuracy": 0.5},
        },
    )
    [training] = new_runs(server, "penguins_on_new_data", known["penguins_on_new_data"])
    run_id = training["dag_run_id"]
    assert server.wait_run("penguins_on_new_data", run_id)["state"] == "success"
    pushed = server.xcom("penguins_on_new_data", run_id, "pusher")["summary"]
    assert pushed["pushed"] is True, pushed
    version = pushed["version"]

    received = None
    deadline = time.monotonic() + 600
    while received is None and time.monotonic() < deadline:
        for run in new_runs(server, "penguins_predictions_consumer", known_consumer, timeout=30):
            known_consumer.add(run["dag_run_id"])
            finished = server.wait_run("penguins_predictions_consumer", run["dag_run_id"])
            assert finished["state"] == "success"
            for event in server.xcom("penguins_predictions_consumer", run["dag_run_id"], "receive"):
                if event["model_version"] == version and event["data"] == [str(drop)]:
                    received = event
    assert received, f"no predictions of version {version} reached the consumer"
    assert received["rows"] == len(rows) - 1 - sum("Chinstrap" in r for r in rows)
    assert received["local_files"] and received["bytes"] > 0
    # The files the event names: the drop, row for row, scored by the pushed version.
    table = read_output(received["uri"], "parquet")
    scored_rows = read_rows(str(drop))
    assert_passthrough(table, scored_rows, ["island", "sex", "year"])
    assert_predictions_match(table, served_outputs(pushed["destination"], scored_rows))


def test_a_backfill_trains_missed_days_in_order_and_a_missing_day_fails_until_it_lands(
    server, penguins_csv
):
    """penguins_daily trains on the last three daily partitions: a backfill of three missed days
    runs them one after another, each on its own window; the third day's partition is missing, so
    its run fails at ExampleGen, at once, naming it and the data interval; once the file lands,
    clearing the run trains on it."""
    dag = "penguins_daily"
    server.wait_for_dag(dag)  # unpaused: it has no start date, so nothing but the backfill runs
    rows = open(penguins_csv).read().splitlines()
    root = os.path.join(server.env["TFPIPE_HOME"], "data", dag)
    days = ["2023-12-30", "2023-12-31", "2024-01-01", "2024-01-02", "2024-01-03"]
    sizes = {}

    def land(i: int) -> None:
        os.makedirs(os.path.join(root, f"dt={days[i]}"), exist_ok=True)
        part = rows[1 + i :: 5]  # every day holds every species
        with open(os.path.join(root, f"dt={days[i]}", "part-0.csv"), "w") as out:
            out.write("\n".join([rows[0], *part]) + "\n")
        sizes[days[i]] = len(part)

    for i in range(4):  # the last day's drop is late
        land(i)
    # Runs at midnight of 2024-01-02, 01-03, 01-04: windows ending 01-01, 01-02, 01-03.
    server.request(
        "POST",
        "/api/v2/backfills",
        {
            "dag_id": dag,
            "from_date": "2024-01-02T00:00:00Z",
            "to_date": "2024-01-04T00:00:00Z",
            "max_active_runs": 1,
            "dag_run_conf": {"train_steps": 40, "min_accuracy": 0.5},
        },
    )
    deadline = time.monotonic() + 900
    runs: list = []
    while time.monotonic() < deadline:
        runs = sorted(
            (r for r in server.runs(dag) if r["run_type"] == "backfill"),
            key=lambda r: r["logical_date"],
        )
        if len(runs) == 3 and all(r["state"] in ("success", "failed") for r in runs):
            break
        time.sleep(3)
    assert [r["state"] for r in runs] == ["success", "success", "failed"], runs
    for before, after in itertools.pairwise(runs):  # one at a time, oldest first
        assert before["end_date"] <= after["start_date"], (before, after)
    for run, i in zip(runs[:2], (2, 3), strict=True):
        example_gen = server.xcom(dag, run["dag_run_id"], "example_gen")
        assert open_artifact(example_gen["uri"]).parameters["data_date"] == days[i]
        assert example_gen["summary"]["rows"] == sum(sizes[d] for d in days[i - 2 : i + 1])

    late = runs[2]["dag_run_id"]
    task = server.task_instances(dag, late)["example_gen"]
    assert task["state"] == "failed" and task["try_number"] == 1  # at once: no retry
    error = step_of(find_run(server.env["TFPIPE_HOME"], safe_run_id(late)), "example_gen")["error"]
    missing = os.path.join(root, "dt=2024-01-03", "*.csv")
    assert f"lacks 1 partition(s), no file matching: 2024-01-03 ('{missing}')" in error, error
    assert "data interval 2024-01-04T00:00:00+00:00" in error and "data_date 2024-01-03" in error

    land(4)  # the late drop lands; its interval is re-run
    server.request(
        "POST", f"/api/v2/dags/{dag}/dagRuns/{late}/clear", {"dry_run": False, "only_failed": True}
    )
    assert server.wait_run(dag, late)["state"] == "success"
    example_gen = server.xcom(dag, late, "example_gen")
    assert open_artifact(example_gen["uri"]).parameters["data_date"] == days[4]
    assert example_gen["summary"]["rows"] == sum(sizes[d] for d in days[2:5])


def step_of(record: dict, name: str) -> dict:
    return next(s for s in record["steps"] if s["step"] == name)
