"""Airflow on a real PostgreSQL (Debian's package, provisioned by infra/postgres/setup.sh) with the
LocalExecutor: two runs of the example DAG at once, their tasks executing in parallel."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import uuid

import pytest
from airflow_support import Standalone, airflow_env
from conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres_server(tmp_path_factory):
    db = f"tfpipe_test_{uuid.uuid4().hex[:8]}"
    setup = subprocess.run(
        ["bash", os.path.join(REPO, "infra", "postgres", "setup.sh"), db],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert setup.returncode == 0, setup.stderr
    url = setup.stdout.strip().splitlines()[-1]
    assert url.startswith("postgresql+psycopg2://")
    env = airflow_env(
        str(tmp_path_factory.mktemp("pg")),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=url,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
    )
    server = Standalone(env)
    try:
        server.wait_ready()
        server.wait_for_dag("penguins")
        yield server
    finally:
        server.stop()
        stop_postgres(db, started="postgres: starting cluster" in setup.stderr)


def stop_postgres(db: str, started: bool) -> None:
    """Drop the test's database; stop the cluster if this test started it (nothing it started
    is left running)."""
    line = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    version, cluster, port = line.split()[:3]
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        # WITH (FORCE): a stopped server's last connections may not have closed yet.
        [*as_postgres, "psql", "-p", port, "-qc", f"drop database if exists {db} with (force)"],
        capture_output=True,
        check=True,
    )
    if started:
        subprocess.run(["pg_ctlcluster", version, cluster, "stop"], check=True)


def interval(ti: dict) -> tuple[dt.datetime, dt.datetime]:
    return (dt.datetime.fromisoformat(ti["start_date"]), dt.datetime.fromisoformat(ti["end_date"]))


def test_example_dag_on_postgres_runs_tasks_in_parallel(postgres_server):
    server = postgres_server
    health = server.request("GET", "/api/v2/monitor/health")
    assert health["metadatabase"]["status"] == "healthy"
    runs = [
        server.trigger("penguins", {"train_steps": steps, "min_accuracy": 0.5})
        for steps in (50, 60)
    ]
    for run_id in runs:
        assert server.wait_run("penguins", run_id)["state"] == "success"
    first, second = (server.task_instances("penguins", r) for r in runs)
    overlaps = [
        (a, b)
        for a in first.values()
        for b in second.values()
        if interval(a)[0] < interval(b)[1] and interval(b)[0] < interval(a)[1]
    ]
    assert overlaps, "no two tasks ran at the same time under the LocalExecutor"
    assert server.xcom("penguins", runs[0], "trainer")["summary"]["steps"] == 50
