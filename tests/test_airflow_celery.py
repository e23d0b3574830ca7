"""Airflow across workers: ``infra/airflow/celery.sh`` (what ``make airflow-celery`` runs) brings
up PostgreSQL, Redis, the API server, scheduler, DAG processor and two Celery workers with their
own tfpipe home and cache; artifacts and pushed models live only in an object store (moto_server).
The penguins DAG runs with its tasks spread over both workers, every run record is whole on the
worker that wrote the report, and the pushed model is read back from the store and serves."""

from __future__ import annotations

import os
import subprocess

import psutil
import pytest
from airflow_support import AirflowServer, celery_env
from conftest import REPO, tfpipe
from object_store_support import keys

pytestmark = pytest.mark.slow

SCRIPT = os.path.join(REPO, "infra", "airflow", "celery.sh")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("celery"))
    env = celery_env(tmp, "tfpipe_celery")
    port = int(env["AIRFLOW__API__PORT"])
    start = subprocess.run(
        ["bash", SCRIPT, "start"], env=env, capture_output=True, text=True, timeout=600
    )
    state = os.path.join(env["AIRFLOW_HOME"], "celery")
    try:
        assert start.returncode == 0, start.stdout + start.stderr
        assert "artifacts and pushed models in s3://tfpipe/airflow" in start.stdout
        server = AirflowServer(port, env["AIRFLOW_HOME"], os.path.join(state, "api-server.log"))
        server.wait_ready()
        yield server, env, state
    finally:
        subprocess.run(["bash", SCRIPT, "stop", "--purge"], env=env, timeout=120)


def _s3_env(env: dict[str, str], state: str) -> dict[str, str]:
    """What a client of the script's moto_server needs (the secret the script generated)."""
    return {
        "TFPIPE_S3_ENDPOINT_URL": f"http://127.0.0.1:{env['TFPIPE_S3_PORT']}",
        "AWS_ACCESS_KEY_ID": "tfpipe-local",
        "AWS_SECRET_ACCESS_KEY": open(os.path.join(state, "s3-secret")).read().strip(),
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def test_the_dag_runs_across_two_celery_workers_with_artifacts_only_in_the_object_store(
    cluster, monkeypatch, tmp_path
):
    server, env, state = cluster
    health = server.request("GET", "/api/v2/monitor/health")
    assert health["metadatabase"]["status"] == "healthy"
    server.wait_for_dag("penguins")  # unpauses it: today's scheduled run starts too
    runs = [server.trigger("penguins", {"train_steps": steps}) for steps in (50, 60)]
    for run_id in runs:
        assert server.wait_run("penguins", run_id)["state"] == "success"
    server.wait_for_scheduled_runs("penguins")
    all_runs = [r["dag_run_id"] for r in server.runs("penguins")]
    hosts = {
        ti["hostname"]
        for run_id in all_runs
        for ti in server.task_instances("penguins", run_id).values()
    }
    assert hosts == {"w1", "w2"}, hosts

    # Nothing local is shared: each worker's home has run records only, never artifacts.
    for worker in ("w1", "w2"):
        home = os.path.join(state, worker, "home")
        assert not os.path.exists(os.path.join(home, "penguins", "artifacts")), worker
        assert os.path.isdir(os.path.join(state, worker, "cache", "objects")), worker

    # The run record written by the report task names every step, wherever it ran.
    from tfpipe.pipelines.runs import RunLog

    for run_id in runs:
        report_worker = server.task_instances("penguins", run_id)["report"]["hostname"]
        home = os.path.join(state, report_worker, "home")
        record = RunLog(home, "penguins", run_id).record()
        assert record["status"] == "succeeded"
        assert [s["status"] for s in record["steps"]].count("not run") == 0, record["steps"]
        assert {s.get("worker") for s in record["steps"]} <= {"w1", "w2"}
        shown = tfpipe("show", record["run_id"], home=home).stdout
        assert "worker" in shown and ("w1" in shown or "w2" in shown), shown

    # Every pushed version is in the object store, in TF Serving's layout (a run evaluated against
    # no model is refused over a newer one; one evaluated against it may push over it).
    s3 = _s3_env(env, state)
    for name, value in {**s3, "TFPIPE_CACHE": str(tmp_path / "reader")}.items():
        monkeypatch.setenv(name, value)
    from serving import served_accuracy

    from tfpipe.components.artifacts import ServingDirectory

    serving = ServingDirectory.at("s3://tfpipe/airflow/serving/penguins")
    pushers = [server.xcom("penguins", r, "pusher")["summary"] for r in all_runs]
    pushed = sorted(p["version"] for p in pushers if p.get("pushed"))
    assert pushed and serving.versions() == pushed
    reasons = ("not pushing over it", "already serving", "model not blessed")
    for refused in (p for p in pushers if not p.get("pushed")):
        assert any(r in refused["reason"] for r in reasons), refused["reason"]
    version = pushed[-1]
    examples = server.xcom("penguins", all_runs[0], "example_gen")["uri"]
    assert examples.startswith("s3://tfpipe/airflow/penguins/artifacts/example_gen/")
    assert served_accuracy(serving.local_copy(version), examples, "species") >= 0.9
    assert any(k.endswith(f"serving/penguins/{version}/saved_model.pb") for k in keys(s3, "tfpipe"))


def test_stop_leaves_no_process_behind(cluster):
    _server, env, state = cluster
    pids = [int(line.split()[1]) for line in open(os.path.join(state, "pids"))]
    subprocess.run(["bash", SCRIPT, "stop"], env=env, timeout=120, check=True)
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert not os.path.exists(os.path.join(state, "pids"))
