"""Airflow on four network hosts (``infra/hosts/hosts.sh``, what ``make airflow-hosts`` runs):
control, store, w1 and w2 are Linux network namespaces joined by a bridge, each service bound to
its host's address. The penguins DAG is triggered; every process of the worker host training it
is killed mid-training; Airflow fails the task once its heartbeat stops, retries it on the other
worker host, which resumes from the last checkpoint mirrored to the store; the run is pushed;
nothing on the store is half-visible; and stopping leaves no namespace, link or process."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import time
import uuid
from typing import Any

import psutil
import pytest
from airflow_support import PYTHON, airflow_env
from conftest import REPO
from hosts_support import CONTROL, SCRIPT, HostsServer, netns

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0, reason="needs root: the hosts are Linux network namespaces"
    ),
]

TRAIN_STEPS = 3000
SECOND_STEPS = 2500  # another fingerprint than the first run: trained again


STORE_CHECK = """
import json, os
from tfpipe.components.artifacts import object_store as o
root = "s3://tfpipe/airflow/penguins"
found = {"scratch": sorted(o.list_objects(root + "/scratch")), "artifacts": {}, "serving": {}}
for step in o.list_children(root + "/artifacts"):
    for fp in o.list_children(f"{root}/artifacts/{step}"):
        uri = f"{root}/artifacts/{step}/{fp}"
        manifest = o.get_json(uri + "/manifest.json")
        files = o.list_objects(uri)
        entry = {"committed": manifest is not None, "prefixes": sorted(
            {k.split("/")[0] for k in files if k.startswith("payload-")})}
        if manifest:
            payload = manifest["payload"]
            entry["whole"] = all(
                files.get(payload["prefix"] + "/" + rel, {}).get("size") == meta["size"]
                for rel, meta in payload["files"].items())
        found["artifacts"][f"{step}/{fp}"] = entry
serving = "s3://tfpipe/airflow/serving/penguins"
for version in o.list_children(serving):
    files = o.list_objects(f"{serving}/{version}")
    found["serving"][version] = sorted(files)
print(json.dumps(found))
"""


def store_state(env: dict[str, str], prefix: str, state: str) -> dict[str, Any]:
    """What the store holds, read from the store host with the script's credentials."""
    secret = open(os.path.join(state, "s3-secret")).read().strip()
    command = [
        "env",
        f"PYTHONPATH={os.path.join(REPO, '.venvs', 'src')}",
        "TFPIPE_S3_ENDPOINT_URL=http://10.213.7.11:9000",
        "AWS_ACCESS_KEY_ID=tfpipe-local",
        f"AWS_SECRET_ACCESS_KEY={secret}",
        "AWS_DEFAULT_REGION=us-east-1",
        PYTHON,
        "-c",
        STORE_CHECK,
    ]
    return json.loads(netns(f"{prefix}store", *command))


def assert_nothing_half_visible(stored: dict[str, Any], versions: int | None) -> None:
    """Every artifact prefix on the store is committed and whole with one payload (no dead
    writer's upload left), no mirrored scratch is left, and each served version is complete."""
    for name, entry in stored["artifacts"].items():
        assert entry["committed"] and entry["whole"], (name, entry)
        assert len(entry["prefixes"]) == 1, (name, entry)
    assert stored["scratch"] == []  # the trainers' mirrored scratch went with their commits
    assert stored["serving"] and (versions is None or len(stored["serving"]) == versions)
    for files in stored["serving"].values():
        assert "saved_model.pb" in files and any(k.startswith("variables/") for k in files)


def checkpoints(state: str, worker: str, epoch: int) -> list[str]:
    """The trainer's local checkpoint files of ``epoch`` in ``worker``'s cache."""
    pattern = os.path.join(
        state,
        worker,
        "cache",
        "objects",
        "tfpipe",
        "airflow",
        "penguins",
        "scratch",
        "trainer",
        "*",
        "checkpoints",
        f"epoch-{epoch:04d}*",
    )
    return glob.glob(pattern)


def namespaces(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(prefix)]


def test_a_worker_host_killed_mid_training_is_replaced_by_the_other_and_nothing_is_left(
    tmp_path,
):
    start_time = time.monotonic()
    prefix = f"t{uuid.uuid4().hex[:4]}-"
    env = airflow_env(
        str(tmp_path),
        TFPIPE_HOSTS_PREFIX=prefix,
        # A dead host's task is failed after 15 s without a heartbeat, its lease stale after 15 s.
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="15",
        TFPIPE_LEASE_SECONDS="15",
    )
    env.pop("TFPIPE_STORE", None)
    state = os.path.join(env["AIRFLOW_HOME"], "hosts")
    seen_pids: set[int] = set()
    try:
        start = subprocess.run(
            ["bash", SCRIPT, "start"], env=env, capture_output=True, text=True, timeout=300
        )
        assert start.returncode == 0, start.stdout + start.stderr
        assert f"ready at http://{CONTROL}:8080" in start.stdout
        assert sorted(namespaces(prefix)) == sorted(
            f"{prefix}{h}" for h in ("control", "store", "w1", "w2", "net")
        )
        # Every service listens on its host's address, none on loopback.
        listening = netns(f"{prefix}control", "ss", "-ltnH")
        for port in (5432, 6379, 8080):
            assert f"{CONTROL}:{port}" in listening, listening
        assert "127.0.0.1" not in listening, listening
        assert "10.213.7.11:9000" in netns(f"{prefix}store", "ss", "-ltnH")

        server = HostsServer(prefix, env["AIRFLOW_HOME"], state)
        server.wait_ready()
        server.wait_for_dag("penguins")
        run_id = server.trigger("penguins", {"train_steps": TRAIN_STEPS})

        # Wait for the trainer's third checkpoint on its worker (each is mirrored to the store
        # right after it is written locally), then kill every process of that host.
        deadline = time.monotonic() + 240
        victim = ""
        while time.monotonic() < deadline and not victim:
            victim = next((w for w in ("w1", "w2") if checkpoints(state, w, 3)), "")
            if not victim:
                run_state = server.request("GET", f"/api/v2/dags/penguins/dagRuns/{run_id}")
                assert run_state["state"] in ("queued", "running"), run_state
                time.sleep(0.3)
        assert victim, "the trainer never wrote its third checkpoint"
        doomed = [
            int(p)
            for p in subprocess.run(
                ["ip", "netns", "pids", f"{prefix}{victim}"], capture_output=True, text=True
            ).stdout.split()
        ]
        assert doomed
        for pid in doomed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        killed_at = time.monotonic()
        # What the dead host left on the store: its mirrored checkpoints. A kill mid-sync can
        # leave the newest epoch file ahead of the backup's pointer (uploaded last): one less.
        on_store = store_state(env, prefix, state)["scratch"]
        epochs = max(int(k.split("epoch-")[1][:4]) for k in on_store if "epoch-" in k)
        steps_before = 100 * (epochs - 1)

        run = server.wait_run("penguins", run_id, timeout=300)
        assert run["state"] == "success", run
        retried = time.monotonic() - killed_at
        trainer = server.task_instances("penguins", run_id)["trainer"]
        survivor = "w2" if victim == "w1" else "w1"
        assert trainer["try_number"] >= 2 and trainer["hostname"] == survivor, trainer
        summary = server.xcom("penguins", run_id, "trainer")["summary"]
        # The retry on the other host started from the checkpoints the dead one mirrored.
        assert summary["resumed_from_step"] >= steps_before > 0, (summary, steps_before)
        assert summary["steps"] == TRAIN_STEPS
        assert summary["scratch_mirror"]["restored_files"] > 0
        pusher = server.xcom("penguins", run_id, "pusher")["summary"]
        assert pusher["pushed"] is True, pusher

        assert_nothing_half_visible(store_state(env, prefix, state), versions=1)
        # The control host shows the log of the try that ran on the surviving host (fetched from
        # that host's log server by its name).
        status, log = server.get_text(
            f"/api/v2/dags/penguins/dagRuns/{run_id}/taskInstances/trainer/logs/"
            f"{trainer['try_number']}"
        )
        assert status == 200 and "resuming from step" in log, (status, log[-2000:])

        # The link of the surviving worker host down for 10 s while its trainer uploads its
        # checkpoints to the store: the step stalls or fails and is retried; the run completes.
        second = server.trigger("penguins", {"train_steps": SECOND_STEPS})
        port = f"{prefix}net"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if checkpoints(state, survivor, 1):
                break
            time.sleep(0.3)
        else:
            raise AssertionError("the second run's trainer never mirrored a checkpoint")
        netns(port, "ip", "link", "set", survivor, "down")
        time.sleep(10)
        netns(port, "ip", "link", "set", survivor, "up")
        cut = server.wait_run("penguins", second, timeout=300)
        assert cut["state"] == "success", cut
        again = server.xcom("penguins", second, "trainer")["summary"]
        assert again["steps"] == SECOND_STEPS
        # The cut hit the uploads: a checkpoint sync stalled through it, or the try failed.
        tries = server.task_instances("penguins", second)["trainer"]["try_number"]
        assert tries >= 2 or again["scratch_mirror"]["max_sync_seconds"] >= 5, (tries, again)
        assert_nothing_half_visible(store_state(env, prefix, state), versions=None)
        print(
            f"hosts: {survivor}'s link down 10 s during training: trainer tries {tries}, "
            f"longest checkpoint sync {again['scratch_mirror']['max_sync_seconds']} s"
        )
        for ns in namespaces(prefix):
            seen_pids.update(
                int(p)
                for p in subprocess.run(
                    ["ip", "netns", "pids", ns], capture_output=True, text=True
                ).stdout.split()
            )
        print(
            f"hosts: trainer killed on {victim} after {steps_before} mirrored steps, "
            f"resumed on {survivor} from {summary['resumed_from_step']}; run done "
            f"{retried:.0f} s after the kill; mirror {summary['scratch_mirror']}"
        )
    finally:
        subprocess.run(["bash", SCRIPT, "stop"], env=env, timeout=120)
    # Nothing is left: no namespace, no link on this machine, no process, no file outside.
    assert namespaces(prefix) == []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert prefix not in links
    alive = [
        p for p in seen_pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
    ]
    assert alive == []
    netns_files = os.listdir("/etc/netns") if os.path.isdir("/etc/netns") else []
    assert [d for d in netns_files if d.startswith(prefix)] == []
    assert not os.path.exists(os.path.join(state, "pids"))
    print(f"hosts: {time.monotonic() - start_time:.0f} s in all")
