"""Fault table, row 3: concurrency. Two runs of one pipeline on the same inputs at once compute
each artifact once (an ``fcntl`` lock per artifact: the second waits and finds the commit);
a model evaluated against version N is never pushed over version N+1 (a compare-and-swap under
the serving directory's lock); a push during a rollback waits for it and then refuses, because
the version it was evaluated against is no longer the newest."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import threading
import time

import pytest
from conftest import REPO, run_penguins, step

from tfpipe.components.artifacts import ServingDirectory, StaleBaseline, write_model_card
from tfpipe.components.core.execute import execute
from tfpipe.pipelines.engine import plan
from tfpipe.pipelines.home import serving_base
from tfpipe.pipelines.registry import load_pipeline


@pytest.mark.slow
def test_a_model_evaluated_against_version_n_is_not_pushed_over_version_n_plus_1(tmp_path):
    home = str(tmp_path)
    first = run_penguins(home, {"trainer.train_steps": 200})
    assert step(first, "pusher")["summary"]["pushed"], first
    serving = ServingDirectory(serving_base(home), "penguins")
    version_n = serving.latest()

    # A second run, executed step by step so that another pipeline can push in between.
    pipeline = load_pipeline("penguins", home).with_overrides({"trainer.train_steps": 300})
    invocations = {inv.step: inv for inv in plan(pipeline, home)}
    for name in ("example_gen", "example_validator", "transform", "trainer", "evaluator"):
        result = execute(invocations[name], "second")
    assert result["summary"]["baseline_version"] == version_n

    # Meanwhile someone else publishes version N+1 (a model with another fingerprint).
    other = tmp_path / "other_model"
    import shutil

    shutil.copytree(serving.version_dir(version_n), other)
    write_model_card(str(other), {"model_fingerprint": "someone-else"}, "# other\n")
    version_n1 = serving.publish(str(other), expected_latest=version_n)

    pushed = execute(invocations["pusher"], "second")["summary"]
    assert pushed["pushed"] is False
    assert f"version {version_n1} was published" in pushed["reason"]
    assert f"version {version_n}" in pushed["reason"]
    assert serving.versions() == [version_n, version_n1]  # N+1 is still the one served


@pytest.mark.slow
def test_two_runs_on_the_same_inputs_at_once_compute_each_artifact_once(tmp_path):
    home = str(tmp_path)
    command = [os.path.join(REPO, "bin", "tfpipe"), "--home", home, "run", "penguins"]
    command += ["--set", "train_steps=300"]
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    records = [
        json.load(open(path))
        for path in glob.glob(os.path.join(home, "penguins", "runs", "*", "record.json"))
    ]
    assert len(records) == 2 and all(r["status"] == "succeeded" for r in records)
    for name in ("example_gen", "transform", "trainer", "evaluator"):
        statuses = sorted(step(r, name)["status"] for r in records)
        assert statuses == ["cached", "executed"], (name, statuses)  # one computed, one waited
        made = os.listdir(os.path.join(home, "penguins", "artifacts", name))
        assert len([m for m in made if not m.startswith(".")]) == 1, made
    assert len(ServingDirectory(serving_base(home), "penguins").versions()) == 1


def test_a_push_during_a_rollback_waits_for_it_then_refuses(tmp_path):
    serving = ServingDirectory(str(tmp_path), "m")
    model = tmp_path / "model"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(b"x")
    first = serving.publish(str(model), expected_latest=None)
    second = serving.publish(str(model), expected_latest=first)
    outcome: dict = {}
    rolling_back = threading.Event()

    def rollback() -> None:
        with serving.locked():  # a rollback in progress holds the lock...
            rolling_back.set()
            time.sleep(0.5)
        outcome["rollback"] = serving.rollback()

    def push() -> None:
        rolling_back.wait()
        try:  # ...evaluated against the newest version before the rollback
            outcome["pushed"] = serving.publish(str(model), expected_latest=second)
        except StaleBaseline as exc:
            outcome["refused"] = str(exc)

    threads = [threading.Thread(target=rollback), threading.Thread(target=push)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    if "pushed" in outcome:  # the push got the lock between the two: then the rollback undid it
        assert outcome["rollback"] == ([outcome["pushed"]], second)
    else:
        assert outcome["rollback"] == ([second], first)
        assert f"version {first} was published" in outcome["refused"]
    assert not [e for e in os.listdir(serving.model_dir) if e.startswith(".incoming-")]
