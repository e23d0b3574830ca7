"""Training on a cluster that something else started: two trainer processes launched as a cluster
manager (a TFJob operator, a JobSet) would launch them, each with its own TF_CONFIG naming the same
cluster. Both train; only the chief commits the model; the worker takes no lock and leaves no
artifact; the model's fingerprint records the cluster."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import run_penguins

from tfpipe.components.artifacts import Model, is_committed, open_artifact
from tfpipe.components.core.runtime import child_environment, interpreter
from tfpipe.components.trainer.cluster import free_ports
from tfpipe.pipelines.engine import plan
from tfpipe.pipelines.registry import load_pipeline

pytestmark = pytest.mark.slow


def test_an_externally_started_two_task_cluster_trains_and_only_the_chief_commits(tmp_path):
    home = str(tmp_path)
    assert (
        run_penguins(home, {"trainer.train_steps": 1, "evaluator.thresholds": {}})["status"]
        == "succeeded"
    )  # ExampleGen and Transform committed: what the cluster trains on
    pipeline = load_pipeline("penguins", home).with_overrides({"trainer.train_steps": 200})
    trainer = next(inv for inv in plan(pipeline, home) if inv.step == "trainer")
    ports = free_ports(2)
    cluster = {"chief": [f"127.0.0.1:{ports[0]}"], "worker": [f"127.0.0.1:{ports[1]}"]}
    command = [
        interpreter("modern"),
        "-m",
        "tfpipe.components",
        "trainer",
        "--params",
        trainer.params.model_dump_json(),
        *[f"--input={name}={uri}" for name, uri in trainer.input_uris.items()],
        "--artifacts-root",
        trainer.artifacts_root,
        "--run-id",
        "external-cluster",
    ]
    tasks = {}
    for role in ("chief", "worker"):
        tf_config = {"cluster": cluster, "task": {"type": role, "index": 0}}
        env = child_environment("modern", {"TF_CONFIG": json.dumps(tf_config)})
        tasks[role] = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    outputs = {role: proc.communicate(timeout=600)[0] for role, proc in tasks.items()}
    codes = {role: proc.returncode for role, proc in tasks.items()}
    if codes != {"chief": 0, "worker": 0}:
        raise AssertionError(f"{codes}\n--- chief ---\n{outputs['chief'][-6000:]}")
    chief = json.loads(outputs["chief"].strip().splitlines()[-1])
    worker = json.loads(outputs["worker"].strip().splitlines()[-1])
    assert worker["ok"] and worker["committed"] is False, worker
    assert "the chief exports the model" in worker["message"]
    assert chief["ok"] and is_committed(chief["uri"]), chief
    model = open_artifact(chief["uri"], Model)
    assert os.path.isfile(os.path.join(model.serving_dir, "saved_model.pb"))
    assert model.summary["steps"] == 200
    assert "tf_config_cluster" in model.manifest["external"]  # the cluster is in the fingerprint
    assert chief["fingerprint"] != trainer.fingerprint  # ...so it is not the single-process model
    left = os.listdir(os.path.dirname(chief["uri"]))
    assert not [m for m in left if ".staging-" in m]  # the worker's discarded staging is gone
