"""Real Airflow for tests: an isolated AIRFLOW_HOME, ``dag.test`` in a subprocess, and a live
``airflow standalone`` (API server, scheduler, LocalExecutor) driven over its REST API."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from conftest import REPO

from tfpipe.pipelines.penguins.pipeline import default_data

# Airflow runs in the orchestrator environment (no TensorFlow there): components run in the
# training runtimes' interpreters, as in a deployment.
PYTHON = os.path.join(REPO, ".venvs", "orchestrator", "bin", "python")
AIRFLOW = os.path.join(REPO, ".venvs", "orchestrator", "bin", "airflow")


def airflow_env(tmp: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=os.path.join(tmp, "airflow"),
        TFPIPE_HOME=os.path.join(tmp, "tfpipe"),
        AIRFLOW__CORE__DAGS_FOLDER=os.path.join(REPO, "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=os.path.join(REPO, "plugins"),
        # Triggers may name data under /tmp (the tests' files) and the shipped penguins data.
        TFPIPE_DATA_ROOTS=os.pathsep.join(["/tmp", os.path.dirname(default_data())]),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT="60",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
        PYTHONPATH=REPO,
        # standalone starts its components as `airflow …` found on PATH
        PATH=os.path.dirname(AIRFLOW) + os.pathsep + os.environ.get("PATH", ""),
    )
    env.update(extra)
    os.makedirs(env["AIRFLOW_HOME"], exist_ok=True)
    return env


def celery_env(tmp: str, database_prefix: str) -> dict[str, str]:
    """The environment of an ``infra/airflow/celery.sh`` deployment on free ports, with its own
    PostgreSQL database and the script's own moto store (no ``TFPIPE_STORE`` inherited)."""
    env = airflow_env(
        tmp,
        AIRFLOW__API__PORT=str(free_port()),
        TFPIPE_REDIS_PORT=str(free_port()),
        TFPIPE_S3_PORT=str(free_port()),
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        TFPIPE_PG_DB=f"{database_prefix}_{uuid.uuid4().hex[:8]}",
    )
    env.pop("TFPIPE_STORE", None)
    return env


def airflow(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    proc = subprocess.run(
        [AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"airflow {args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc.stdout


DAG_TEST = """
import json, os, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
assert not bag.import_errors, bag.import_errors
dag = bag.dags[sys.argv[1]]
try:
    run = dag.test(run_conf=json.loads(sys.argv[2]))
except Exception as exc:
    print("@@RESULT " + json.dumps({"refused": f"{type(exc).__name__}: {exc}"}))
    sys.exit(0)
tis = {ti.task_id: {"state": str(ti.state), "try_number": ti.try_number}
       for ti in run.get_task_instances()}
xcoms = {}
for ti in run.get_task_instances():
    value = ti.xcom_pull(task_ids=ti.task_id)
    if value:
        xcoms[ti.task_id] = value
print("@@RESULT " + json.dumps({"state": str(run.state), "tasks": tis, "xcom": xcoms},
                               default=str))
"""


def dag_test(env: dict[str, str], dag_id: str, conf: dict[str, Any]) -> dict[str, Any]:
    """``dag.test()`` in a fresh interpreter (Airflow reads its config at import)."""
    proc = subprocess.run(
        [PYTHON, "-c", DAG_TEST, dag_id, json.dumps(conf)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("@@RESULT "):
            return json.loads(line[len("@@RESULT ") :])
    raise AssertionError(f"dag.test gave no result:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AirflowServer:
    """A REST client of a running Airflow API server (admin login from the simple auth manager's
    generated password file)."""

    def __init__(self, port: int, airflow_home: str, log_path: str) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.airflow_home = airflow_home
        self.log_path = log_path
        self.token = ""

    def alive(self) -> bool:
        return True

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        password_file = os.path.join(
            self.airflow_home, "simple_auth_manager_passwords.json.generated"
        )
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"Airflow exited: {open(self.log_path).read()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/api/v2/monitor/health", timeout=2):
                    pass
                if os.path.exists(password_file):
                    password = json.load(open(password_file))["admin"]
                    self.token = self.request(
                        "POST",
                        "/auth/token",
                        {"username": "admin", "password": password},
                        auth=False,
                    )["access_token"]
                    return
            except (urllib.error.URLError, ConnectionError, KeyError):
                pass
            time.sleep(1)
        raise AssertionError(f"Airflow not ready: {open(self.log_path).read()[-4000:]}")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        auth: bool = True,
        expect: tuple[int, ...] = (200, 201),
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, payload = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, payload = err.code, err.read()
        if status not in expect:
            raise AssertionError(f"{method} {path} → {status}: {payload[:2000]!r}")
        return json.loads(payload) if payload else None

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.request("GET", f"/api/v2/dags/{dag_id}", expect=(200, 404))
            if found and "dag_id" in found:
                self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
                return
            time.sleep(1)
        raise AssertionError(f"DAG {dag_id} never appeared; log: {self.log_path}")

    def get_text(self, path: str) -> tuple[int, str]:
        req = urllib.request.Request(self.base + path)
        req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=-run_after")["dag_runs"]

    def wait_for_scheduled_runs(self, dag_id: str, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        seen = False
        while time.monotonic() < deadline:
            runs = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
            scheduled = [r for r in runs if r["run_type"] == "scheduled"]
            seen = seen or bool(scheduled)
            if seen and all(r["state"] in ("success", "failed") for r in scheduled):
                return
            if not seen and time.monotonic() > deadline - timeout + 30:
                return  # no scheduled run came (e.g. a schedule of None)
            time.sleep(2)
        raise AssertionError(f"scheduled runs of {dag_id} did not finish; log {self.log_path}")

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        run = self.request(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf}
        )
        return run["dag_run_id"]

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            time.sleep(2)
        raise AssertionError(f"run {run_id} of {dag_id} did not finish; log {self.log_path}")

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        tis = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"]: ti for ti in tis["task_instances"]}

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        entry = self.request(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
            "/xcomEntries/return_value?deserialize=true",
        )
        value = entry["value"]
        return json.loads(value) if isinstance(value, str) else value

    def asset_id(self, name: str) -> int:
        assets = self.request("GET", f"/api/v2/assets?name_pattern={name}")["assets"]
        return next(a["id"] for a in assets if a["name"] == name)


class Standalone(AirflowServer):
    """``airflow standalone`` on 127.0.0.1 with a REST client; stopped as a process group."""

    def __init__(self, env: dict[str, str]) -> None:
        port = free_port()
        super().__init__(
            port, env["AIRFLOW_HOME"], os.path.join(env["AIRFLOW_HOME"], "standalone.log")
        )
        self.env = {
            **env,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        }
        self.proc = subprocess.Popen(
            [AIRFLOW, "standalone"],
            env=self.env,
            cwd=REPO,
            stdout=open(self.log_path, "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
