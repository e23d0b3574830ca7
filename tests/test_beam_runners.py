"""Transform on other Beam runners, chosen by ``transform.beam_args`` alone: the direct runner in
``multi_processing`` mode, and the portable runner against a local job service with an EXTERNAL
SDK worker pool (the deployment shape of Flink, Spark and Dataflow workers), both started here.
Each must give the same transform graph (vocabularies) and the same transformed rows as the
in-memory default, and the pipeline must complete on them."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time

import pytest
from conftest import run_penguins, step

from components.artifacts import TransformGraph, open_artifact
from components.core.runtime import child_environment, interpreter
from components.trainer.cluster import free_ports

pytestmark = pytest.mark.slow

FAST = {"trainer.train_steps": 60, "evaluator.thresholds": {}}


def fingerprint_of_outputs(uri: str) -> dict[str, str]:
    """Digests of the transform graph's vocabulary files and the row counts per split."""
    graph = open_artifact(uri, TransformGraph)
    assets = {}
    for root, _dirs, files in os.walk(graph.graph_dir):
        for name in files:
            if "assets" in root:
                with open(os.path.join(root, name), "rb") as f:
                    assets[name] = hashlib.sha256(f.read()).hexdigest()[:16]
    return {**assets, **{f"rows:{k}": str(v) for k, v in graph.summary.get("rows", {}).items()}}


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture(scope="module")
def in_memory(tmp_path_factory) -> tuple[str, dict[str, str]]:
    home = str(tmp_path_factory.mktemp("in_memory"))
    record = run_penguins(home, FAST)
    assert record["status"] == "succeeded", record
    return home, fingerprint_of_outputs(step(record, "transform")["uri"])


def test_multi_processing_direct_runner_gives_the_same_transform(in_memory):
    home, expected = in_memory
    args = ["--runner=DirectRunner", "--direct_running_mode=multi_processing"]
    args.append("--direct_num_workers=2")
    record = run_penguins(home, {**FAST, "transform.beam_args": args})
    assert record["status"] == "succeeded", record
    transform = step(record, "transform")
    assert transform["status"] == "executed"
    assert fingerprint_of_outputs(transform["uri"]) == expected


def test_portable_runner_with_a_job_service_and_an_external_worker_pool(in_memory, tmp_path):
    home, expected = in_memory
    job_port, pool_port = free_ports(2)
    python = interpreter("modern")
    env = child_environment("modern")
    # The SDK workers must run the runtime's Python (its venv first on PATH).
    env["PATH"] = os.pathsep.join([os.path.dirname(python), env.get("PATH", "")])
    services = [
        subprocess.Popen(
            [python, "-m", module, *flags],
            env=env,
            stdout=open(tmp_path / f"{name}.log", "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name, module, flags in (
            (
                "job_service",
                "apache_beam.runners.portability.local_job_service_main",
                [f"--port={job_port}"],
            ),
            (
                "worker_pool",
                "apache_beam.runners.worker.worker_pool_main",
                [f"--service_port={pool_port}"],
            ),
        )
    ]
    try:
        wait_for_port(job_port)
        wait_for_port(pool_port)
        args = [
            "--runner=PortableRunner",
            f"--job_endpoint=localhost:{job_port}",
            "--environment_type=EXTERNAL",
            f"--environment_config=localhost:{pool_port}",
        ]
        record = run_penguins(home, {**FAST, "transform.beam_args": args})
        logs = {p.name: p.read_text()[-2000:] for p in tmp_path.glob("*.log")}
        assert record["status"] == "succeeded", (record.get("error"), logs)
        transform = step(record, "transform")
        assert transform["status"] == "executed"
        assert fingerprint_of_outputs(transform["uri"]) == expected
    finally:
        for service in services:
            os.killpg(service.pid, 9)
            service.wait()
