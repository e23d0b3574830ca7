"""Airflow on four network hosts (``infra/hosts/hosts.sh``, what ``make airflow-hosts`` runs):
control, store, w1 and w2 are Linux network namespaces joined by a bridge, each service bound to
its host's address.

One deployment serves the whole module (starting it takes ~25 s); the tests run in file order,
and later tests use what earlier ones left (the lost host, the runs):

1. every service listens on its host's address;
2. every process of the worker host training is killed: Airflow retries the task on the other
   host, which resumes from the checkpoints mirrored to the store; the run is pushed;
3. the surviving host's link is cut while it uploads: the run completes, nothing is
   half-visible, and control still shows its task logs (from the store, the host unreachable);
4. the lost host comes back, and two data drops are announced back to back while the control
   plane is restarted: the runs complete, each drop is trained on exactly once
   through the claims ledger on the store, with tasks on both worker hosts;
5. the trainer as a training cluster across the worker hosts from one run (chief task on w1,
   worker task on w2, each with its TF_CONFIG): Keras, then Keras→Estimator (estimator runtime).

Stopping the deployment leaves no namespace, link, process or file (checked at teardown)."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
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

TRAIN_STEPS = 2000
SECOND_STEPS = 1500  # another fingerprint than the first run: trained again
CLUSTER = {"chief": ["w1:2222"], "worker": ["w2:2222"]}
CLUSTER_STEPS = 300


STORE_CHECK = """
import json, os
from tfpipe.components.artifacts import object_store as o
root = "s3://tfpipe/airflow/penguins"
found = {"scratch": sorted(o.list_objects(root + "/scratch")), "artifacts": {}, "serving": {},
         "claims": o.get_json(root + "/asset_claims/penguins_on_new_data.json"),
         "logs": sorted(o.list_objects("s3://tfpipe/airflow-logs"))}
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
            entry["input"] = manifest.get("parameters", {}).get("input")
        found["artifacts"][f"{step}/{fp}"] = entry
serving = "s3://tfpipe/airflow/serving/penguins"
for version in o.list_children(serving):
    files = o.list_objects(f"{serving}/{version}")
    found["serving"][version] = sorted(files)
print(json.dumps(found))
"""

PUT_DROPS = """
import json, sys
from tfpipe.components.artifacts import object_store as o
for uri, text in json.load(sys.stdin).items():
    o.put_bytes(uri, text.encode())
"""


@dataclass
class Deployment:
    """The running hosts: the test's environment, namespace prefix, state folder (logs, secrets,
    each worker's home and cache) and a REST client of control's API server."""

    env: dict[str, str]
    prefix: str
    state: str
    server: HostsServer
    seen_pids: set[int] = field(default_factory=set)
    survivor: str = ""  # the worker host left after the kill test

    def on_store_host(self, code: str, stdin: str = "") -> str:
        """Run Python on the store host with the deployment's store credentials."""
        secret = open(os.path.join(self.state, "s3-secret")).read().strip()
        command = [
            "env",
            f"PYTHONPATH={os.path.join(REPO, '.venvs', 'src')}",
            "TFPIPE_S3_ENDPOINT_URL=http://10.213.7.11:9000",
            "AWS_ACCESS_KEY_ID=tfpipe-local",
            f"AWS_SECRET_ACCESS_KEY={secret}",
            "AWS_DEFAULT_REGION=us-east-1",
            PYTHON,
            "-c",
            code,
        ]
        return netns(f"{self.prefix}store", *command, stdin=stdin)

    def store_state(self) -> dict[str, Any]:
        """What the store holds, read from the store host."""
        return json.loads(self.on_store_host(STORE_CHECK))

    def host_pids(self, host: str) -> list[int]:
        out = subprocess.run(
            ["ip", "netns", "pids", f"{self.prefix}{host}"], capture_output=True, text=True
        ).stdout
        return [int(p) for p in out.split()]

    def remember_pids(self) -> None:
        for ns in namespaces(self.prefix):
            self.seen_pids.update(self.host_pids(ns[len(self.prefix) :]))


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


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    """``hosts.sh start`` once for the module; at teardown ``stop``, and nothing may be left."""
    tmp = str(tmp_path_factory.mktemp("hosts"))
    prefix = f"t{uuid.uuid4().hex[:4]}-"
    env = airflow_env(
        tmp,
        TFPIPE_HOSTS_PREFIX=prefix,
        # A dead host's task is failed after 15 s without a heartbeat, its lease stale after 15 s.
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="15",
        TFPIPE_LEASE_SECONDS="15",
        # dags/penguins_cluster.py: the trainer's chief on w1, its worker on w2.
        TFPIPE_TRAINING_CLUSTER=json.dumps(CLUSTER),
    )
    env.pop("TFPIPE_STORE", None)
    env.pop("TFPIPE_DATA_ROOTS", None)  # the deployment's own: drops land in s3://tfpipe/drops
    state = os.path.join(env["AIRFLOW_HOME"], "hosts")
    started = time.monotonic()
    deployed: Deployment | None = None
    try:
        start = subprocess.run(
            ["bash", SCRIPT, "start"], env=env, capture_output=True, text=True, timeout=300
        )
        assert start.returncode == 0, start.stdout + start.stderr
        assert f"ready at http://{CONTROL}:8080" in start.stdout
        server = HostsServer(prefix, env["AIRFLOW_HOME"], state)
        server.wait_ready()
        deployed = Deployment(env, prefix, state, server)
        print(f"hosts: up in {time.monotonic() - started:.0f} s")
        yield deployed
    finally:
        if deployed is not None:
            deployed.remember_pids()
        subprocess.run(["bash", SCRIPT, "stop"], env=env, timeout=120)
    # Nothing is left: no namespace, no link on this machine, no process, no file outside.
    assert namespaces(prefix) == []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert prefix not in links
    alive = [
        p
        for p in deployed.seen_pids
        if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"
    ]
    assert alive == []
    netns_files = os.listdir("/etc/netns") if os.path.isdir("/etc/netns") else []
    assert [d for d in netns_files if d.startswith(prefix)] == []
    assert not os.path.exists(os.path.join(state, "pids"))
    print(f"hosts: {time.monotonic() - started:.0f} s in all")


def test_every_service_listens_on_its_hosts_address(deployment):
    prefix = deployment.prefix
    assert sorted(namespaces(prefix)) == sorted(
        f"{prefix}{h}" for h in ("control", "store", "w1", "w2", "net")
    )
    listening = netns(f"{prefix}control", "ss", "-ltnH")
    for port in (5432, 6379, 8080):
        assert f"{CONTROL}:{port}" in listening, listening
    assert "127.0.0.1" not in listening, listening
    assert "10.213.7.11:9000" in netns(f"{prefix}store", "ss", "-ltnH")
    # Each worker consumes the default queue and its host's own.
    for worker in ("w1", "w2"):
        log = open(os.path.join(deployment.state, f"{worker}.log")).read()
        assert f"{worker}@" in log and "default" in log, log[-2000:]


def test_a_worker_host_killed_mid_training_is_replaced_by_the_other(deployment):
    server, state = deployment.server, deployment.state
    server.wait_for_dag("penguins")
    versions_before = len(deployment.store_state()["serving"])
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
    deployment.remember_pids()
    doomed = deployment.host_pids(victim)
    assert doomed
    for pid in doomed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    killed_at = time.monotonic()
    # What the dead host left on the store: its mirrored checkpoints. A kill mid-sync can
    # leave the newest epoch file ahead of the backup's pointer (uploaded last): one less.
    on_store = deployment.store_state()["scratch"]
    epochs = max(int(k.split("epoch-")[1][:4]) for k in on_store if "epoch-" in k)
    steps_before = 100 * (epochs - 1)

    run = server.wait_run("penguins", run_id, timeout=300)
    assert run["state"] == "success", run
    retried = time.monotonic() - killed_at
    trainer = server.task_instances("penguins", run_id)["trainer"]
    survivor = "w2" if victim == "w1" else "w1"
    deployment.survivor = survivor
    assert trainer["try_number"] >= 2 and trainer["hostname"] == survivor, trainer
    summary = server.xcom("penguins", run_id, "trainer")["summary"]
    # The retry on the other host started from the checkpoints the dead one mirrored.
    assert summary["resumed_from_step"] >= steps_before > 0, (summary, steps_before)
    assert summary["steps"] == TRAIN_STEPS
    assert summary["scratch_mirror"]["restored_files"] > 0
    pusher = server.xcom("penguins", run_id, "pusher")["summary"]
    assert pusher["pushed"] is True, pusher
    assert_nothing_half_visible(deployment.store_state(), versions=versions_before + 1)
    print(
        f"hosts: trainer killed on {victim} after {steps_before} mirrored steps, "
        f"resumed on {survivor} from {summary['resumed_from_step']}; run done "
        f"{retried:.0f} s after the kill; mirror {summary['scratch_mirror']}"
    )


def test_a_cut_link_stalls_uploads_and_control_shows_logs_from_the_store(deployment):
    """The surviving worker host's link is down for 10 s while its trainer uploads checkpoints:
    the step stalls or fails and is retried, the run completes, nothing is half-visible. While
    that host is unreachable, control's API server shows the log of the trainer's try that ran
    there, read from the store (Airflow's remote task logs)."""
    server, state, survivor = deployment.server, deployment.state, deployment.survivor
    assert survivor, "runs after the kill test"
    killed_run = server.runs("penguins")[0]["dag_run_id"]
    trainer = server.task_instances("penguins", killed_run)["trainer"]
    log_path = (
        f"/api/v2/dags/penguins/dagRuns/{killed_run}/taskInstances/trainer/logs/"
        f"{trainer['try_number']}"
    )
    second = server.trigger("penguins", {"train_steps": SECOND_STEPS})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if checkpoints(state, survivor, 1):
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the second run's trainer never mirrored a checkpoint")
    port = f"{deployment.prefix}net"
    netns(port, "ip", "link", "set", survivor, "down")
    cut_at = time.monotonic()
    try:
        status, log = server.get_text(log_path)
    finally:
        time.sleep(max(0.0, 10 - (time.monotonic() - cut_at)))
        netns(port, "ip", "link", "set", survivor, "up")
    assert status == 200 and "resuming from step" in log, (status, log[-2000:])
    logs = deployment.store_state()["logs"]
    assert any(
        f"run_id={killed_run}/task_id=trainer/attempt={trainer['try_number']}" in k for k in logs
    ), logs[:20]

    cut = server.wait_run("penguins", second, timeout=300)
    assert cut["state"] == "success", cut
    again = server.xcom("penguins", second, "trainer")["summary"]
    assert again["steps"] == SECOND_STEPS
    # The cut hit the uploads: a checkpoint sync stalled through it, or the try failed.
    tries = server.task_instances("penguins", second)["trainer"]["try_number"]
    assert tries >= 2 or again["scratch_mirror"]["max_sync_seconds"] >= 5, (tries, again)
    assert_nothing_half_visible(deployment.store_state(), versions=None)
    deployment.remember_pids()
    print(
        f"hosts: {survivor}'s link down 10 s during training: trainer tries {tries}, "
        f"longest checkpoint sync {again['scratch_mirror']['max_sync_seconds']} s"
    )


def test_two_drops_announced_while_control_restarts_are_each_trained_on_once(
    deployment, penguins_csv
):
    """The lost worker host comes back; two files land on the store and are announced back to
    back; while their runs' tasks run on the worker hosts, control's API server, scheduler and
    DAG processor are restarted. The runs complete (a running task rides the restart out, or is
    failed and retried) and, through the claims ledger on the store, each drop is trained on by
    exactly one run, whichever host ran its tasks."""
    server = deployment.server
    if deployment.survivor:  # the kill test lost a worker host: it comes back
        lost = "w1" if deployment.survivor == "w2" else "w2"
        back = subprocess.run(
            ["bash", SCRIPT, "start-worker", lost],
            env=deployment.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert back.returncode == 0 and f"{lost}'s worker is up" in back.stdout, (
            back.stdout + back.stderr
        )
    server.wait_for_dag("penguins_on_new_data")
    rows = open(penguins_csv).read().splitlines()
    tag = uuid.uuid4().hex[:6]
    drops = {
        f"s3://tfpipe/drops/{tag}-{i}.csv": "\n".join([rows[0], *part]) + "\n"
        for i, part in enumerate((rows[1::2], rows[2::2]))  # both hold every species
    }
    deployment.on_store_host(PUT_DROPS, stdin=json.dumps(drops))
    asset_id = server.asset_id("penguins_data")
    for uri in drops:  # back to back, as a batch pipeline would announce two files
        server.request(
            "POST",
            "/api/v2/assets/events",
            {"asset_id": asset_id, "extra": {"data": uri, "train_steps": 300, "min_accuracy": 0.5}},
        )
    # Restart the control plane once a task of these runs is running on a worker host.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        runs = server.runs("penguins_on_new_data")
        running = [
            t
            for r in runs
            for t in server.task_instances("penguins_on_new_data", r["dag_run_id"]).values()
            if t["state"] == "running"
        ]
        if running:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"no task of the drops' runs started: {runs}")
    # The restarted scheduler fails tasks whose heartbeat is older than its timeout: the
    # deployment's 60 s (the module's 15 s is for the kill test), longer than the restart.
    restarted_at = time.monotonic()
    restart = subprocess.run(
        ["bash", SCRIPT, "restart-control"],
        env={**deployment.env, "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert restart.returncode == 0, restart.stdout + restart.stderr
    assert "ready at" in restart.stdout
    server.wait_ready()
    outage = time.monotonic() - restarted_at

    def claimed_drops(claims: dict[str, Any] | None) -> list[str]:
        return [
            e["extra"]["data"]
            for events in (claims or {}).get("runs", {}).values()
            for e in events
            if e["extra"].get("data") in drops
        ]

    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        runs = server.runs("penguins_on_new_data")
        done = runs and all(r["state"] in ("success", "failed") for r in runs)
        if done and len(claimed_drops(deployment.store_state()["claims"])) >= 2:
            break
        time.sleep(2)
    assert runs and all(r["state"] == "success" for r in runs), runs
    stored = deployment.store_state()
    claims = stored["claims"]
    # Each drop's event is owned by exactly one run (the ledger's owner map) ...
    assert sorted(claimed_drops(claims)) == sorted(drops), claims
    trained: list[str] = []
    hosts: set[str] = set()
    retried: list[str] = []
    for run in runs:
        tasks = server.task_instances("penguins_on_new_data", run["dag_run_id"])
        # A task running through the restart usually rides it out (its execution-API calls are
        # retried); one that does not is failed and retried by Airflow: either way the run succeeds.
        retried.extend(t for t, ti in tasks.items() if ti["try_number"] > 1)
        hosts.update(t["hostname"] for t in tasks.values() if t.get("hostname"))
        if tasks["example_gen"]["state"] == "skipped":  # its drops were claimed by another run
            assert claims["runs"][run["dag_run_id"]] == [], claims
            continue
        uri = server.xcom("penguins_on_new_data", run["dag_run_id"], "example_gen")["uri"]
        step_fp = "/".join(uri.rstrip("/").split("/")[-2:])
        inputs = stored["artifacts"][step_fp]["input"]
        inputs = [inputs] if isinstance(inputs, str) else list(inputs)
        assert sorted(inputs) == sorted(
            e["extra"]["data"] for e in claims["runs"][run["dag_run_id"]]
        )
        trained.extend(inputs)
    assert sorted(trained) == sorted(drops), (trained, claims)  # every file, each once
    assert hosts == {"w1", "w2"}, hosts  # the tasks ran on both worker hosts
    assert_nothing_half_visible(stored, versions=None)
    deployment.remember_pids()
    print(
        f"hosts: drops {sorted(drops)} trained by {len(runs)} runs on {sorted(hosts)}; "
        f"control away {outage:.0f} s while {len(running)} tasks ran; retried tasks: {retried}"
    )


def test_a_training_cluster_across_the_worker_hosts_trains_from_an_airflow_run(deployment):
    """The trainer's chief is a task on w1 and its worker a task on w2 (dags/penguins_cluster.py,
    each routed to its host's Celery queue with its own TF_CONFIG): both train every step
    together, only the chief commits, the model is evaluated and pushed. Keras under
    MultiWorkerMirroredStrategy, then the same Keras model converted to an Estimator on the
    estimator runtime (upstream artifacts cached from the first run)."""
    server = deployment.server
    for dag_id, conf, backend, converted in (
        ("penguins_cluster", {}, "keras", False),
        ("penguins_cluster_estimator", {"backend": "auto"}, "estimator", True),
    ):
        server.wait_for_dag(dag_id)
        versions_before = len(deployment.store_state()["serving"])
        started = time.monotonic()
        run_id = server.trigger(dag_id, {"train_steps": CLUSTER_STEPS, **conf})
        run = server.wait_run(dag_id, run_id, timeout=420)
        tasks = server.task_instances(dag_id, run_id)
        assert run["state"] == "success", {t: ti["state"] for t, ti in tasks.items()}
        # Each member on its host, in one try (a worker never waits for the chief's lock).
        for task_id, host in (("trainer", "w1"), ("trainer_worker_0", "w2")):
            ti = tasks[task_id]
            assert (ti["hostname"], ti["try_number"]) == (host, 1), ti
        chief = server.xcom(dag_id, run_id, "trainer")
        worker = server.xcom(dag_id, run_id, "trainer_worker_0")
        assert (chief["member"], chief["host"]) == ("chief:0", "w1"), chief
        assert (worker["member"], worker["host"]) == ("worker:0", "w2"), worker
        assert worker["fingerprint"] == chief["fingerprint"]  # one artifact, one fingerprint
        assert worker["committed"] is False and "the chief exports" in worker["message"]
        for member, summary in (("chief:0", chief["summary"]), ("worker:0", worker["summary"])):
            assert summary["cluster_task"] == member, summary
            assert summary["steps"] == CLUSTER_STEPS, summary
            assert summary["distribution"] == "multi_worker", summary
            assert (summary["backend"], summary["converted"]) == (backend, converted), summary
        pusher = server.xcom(dag_id, run_id, "pusher")["summary"]
        assert pusher["pushed"] is True, pusher
        stored = deployment.store_state()
        # Only the chief committed: the trainer's artifact has one payload, and it is whole.
        trainer = stored["artifacts"][f"trainer/{chief['fingerprint']}"]
        assert trainer["committed"] and trainer["prefixes"] and len(trainer["prefixes"]) == 1
        assert_nothing_half_visible(stored, versions=versions_before + 1)
        took = {t: round(ti["duration"] or 0) for t, ti in tasks.items()}
        print(
            f"hosts: {dag_id}: chief on w1 + worker on w2, {CLUSTER_STEPS} steps "
            f"({chief['summary']['train_seconds']} s training), "
            f"run {time.monotonic() - started:.0f} s; task seconds {took}"
        )
    deployment.remember_pids()
