"""The same Airflow run on one host and across four network hosts.

    sudo .venvs/dev/bin/python benchmarks/hosts_bench.py [--train-steps 1000]

One host: ``infra/airflow/celery.sh`` (PostgreSQL, Redis, the control plane, two Celery workers
and moto, all on 127.0.0.1). Four hosts: ``infra/hosts/hosts.sh`` (control, store, w1, w2 as
network namespaces joined by a bridge). Each starts from nothing (fresh homes, caches, store),
triggers the penguins DAG once and reads the run's duration and each task's from Airflow (the
time to bring the deployment up is reported apart). Prints one JSON line per deployment.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

from airflow_support import AirflowServer, airflow_env, celery_env  # noqa: E402
from hosts_support import SCRIPT as HOSTS_SCRIPT  # noqa: E402
from hosts_support import HostsServer  # noqa: E402

CELERY_SCRIPT = os.path.join(REPO, "infra", "airflow", "celery.sh")


def seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def measure(server: AirflowServer, train_steps: int) -> dict:
    server.wait_ready()
    server.wait_for_dag("penguins")
    run_id = server.trigger("penguins", {"train_steps": train_steps})
    run = server.wait_run("penguins", run_id, timeout=900)
    tasks = server.task_instances("penguins", run_id)
    return {
        "state": run["state"],
        "run_seconds": round(seconds(run["start_date"], run["end_date"]), 1),
        "tasks": {
            t: {"seconds": round(ti["duration"] or 0.0, 1), "host": ti["hostname"]}
            for t, ti in tasks.items()
        },
    }


@contextlib.contextmanager
def deployed(script: str, env: dict[str, str], stop: list[str]) -> Iterator[float]:
    """Start a deployment script, yield how long it took to come up, stop it whatever happens."""
    began = time.monotonic()
    try:
        subprocess.run(
            ["bash", script, "start"], env=env, check=True, timeout=600, capture_output=True
        )
        yield time.monotonic() - began
    finally:
        subprocess.run(["bash", script, *stop], env=env, timeout=120)


def one_host(train_steps: int, tmp: str) -> dict:
    env = celery_env(tmp, "tfpipe_bench")
    state = os.path.join(env["AIRFLOW_HOME"], "celery")
    with deployed(CELERY_SCRIPT, env, ["stop", "--purge"]) as up:
        port = int(env["AIRFLOW__API__PORT"])
        server = AirflowServer(port, env["AIRFLOW_HOME"], os.path.join(state, "api-server.log"))
        return {"deployment": "1 host", "up_seconds": round(up, 1), **measure(server, train_steps)}


def four_hosts(train_steps: int, tmp: str) -> dict:
    prefix = f"b{uuid.uuid4().hex[:4]}-"
    env = airflow_env(tmp, TFPIPE_HOSTS_PREFIX=prefix)
    env.pop("TFPIPE_STORE", None)
    env.pop("TFPIPE_DATA_ROOTS", None)
    with deployed(HOSTS_SCRIPT, env, ["stop"]) as up:
        server = HostsServer(
            prefix, env["AIRFLOW_HOME"], os.path.join(env["AIRFLOW_HOME"], "hosts")
        )
        return {"deployment": "4 hosts", "up_seconds": round(up, 1), **measure(server, train_steps)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-steps", type=int, default=1000)
    args = parser.parse_args()
    for deploy in (one_host, four_hosts):
        with tempfile.TemporaryDirectory(prefix="tfpipe-hosts-bench-") as tmp:
            print(json.dumps(deploy(args.train_steps, tmp)), flush=True)


if __name__ == "__main__":
    main()
