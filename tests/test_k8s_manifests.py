"""infra/k8s: the TFJob and the Kubeflow Trainer v2 TrainJob a cluster could apply as is. No
Kubernetes here and no published schema package on the registries, so the test checks what would
break on a cluster: the API kinds and the fields their operators require, that the containers run
the trainer component with parameters the trainer accepts, and that a JobSet pod of the TrainJob
gets the TF_CONFIG of its cluster."""

from __future__ import annotations

import json
import os

import yaml
from conftest import REPO

from tfpipe.components.trainer.cluster_config import ClusterConfig
from tfpipe.components.trainer.params import TrainerParams

K8S = os.path.join(REPO, "infra", "k8s")


def load(name: str) -> list[dict]:
    with open(os.path.join(K8S, name)) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def trainer_args(args: list[str]) -> dict[str, str]:
    """``--flag value`` and ``--flag=value`` alike; the parameters validated as the trainer
    would (the module path relative to the image's working directory, /opt/tfpipe)."""
    pairs: dict[str, str] = {}
    pending = None
    for arg in args:
        if pending:
            pairs[pending], pending = arg, None
        elif "=" in arg:
            key, value = arg.split("=", 1)
            pairs[key] = value
        else:
            pending = arg
    params = json.loads(pairs["--params"])
    params["module_file"] = os.path.join(REPO, params["module_file"])
    TrainerParams.model_validate(params)  # what the component would accept
    assert pairs["--input"].startswith("transform=")
    assert {"--artifacts-root", "--runtime"} <= set(pairs)
    return pairs


def test_the_tfjob_runs_the_trainer_component_on_chief_workers_and_a_ps():
    [job] = load("trainer-tfjob.yaml")
    assert (job["apiVersion"], job["kind"]) == ("kubeflow.org/v1", "TFJob")
    replicas = job["spec"]["tfReplicaSpecs"]
    assert {k: v["replicas"] for k, v in replicas.items()} == {"Chief": 1, "Worker": 2, "PS": 1}
    for spec in replicas.values():
        [container] = spec["template"]["spec"]["containers"]
        assert container["name"] == "tensorflow"  # the operator finds the TF container by name
        assert container["command"][1:] == ["-m", "tfpipe.components", "trainer"]
        assert trainer_args(container["args"])["--runtime"] == "estimator"


def test_the_trainjob_runtime_gives_each_pod_the_tf_config_of_its_jobset():
    runtime, trainjob = load("trainjob.yaml")
    assert (runtime["kind"], trainjob["kind"]) == ("TrainingRuntime", "TrainJob")
    assert trainjob["spec"]["runtimeRef"]["name"] == runtime["metadata"]["name"]
    trainer_args(trainjob["spec"]["trainer"]["args"])
    jobs = runtime["spec"]["template"]["spec"]["replicatedJobs"]
    assert [j["name"] for j in jobs] == ["chief", "worker"]
    [container] = jobs[0]["template"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    labels = {  # what JobSet puts on the second task's pod, through the fieldRefs
        "JOBSET_NAME": trainjob["metadata"]["name"],
        "REPLICATED_JOB_NAME": "worker",
        "JOB_INDEX": "0",
    }
    assert set(labels) <= set(env)
    config = ClusterConfig.from_env({**{k: v for k, v in env.items() if v}, **labels})
    assert config.cluster == {
        "chief": ["penguins-train-chief-0-0.penguins-train:2222"],
        "worker": ["penguins-train-worker-0-0.penguins-train:2222"],
    }
    assert config.task_name == "worker:0" and not config.is_chief
