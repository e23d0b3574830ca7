"""Fault table, row 2: kill -9 of each component mid-write, and of the runner itself.

Each component is killed at the worst moment of its write (``TFPIPE_FAULT``, see
components/core/faults.py): its whole payload and manifest are in staging, the rename that makes
them visible has not happened. Nothing half-written may become visible, no process may be left,
and a re-run must complete, reusing what was committed and resuming training from its checkpoint.
The serving directory must only ever hold complete versions.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import time

import psutil
import pytest
from conftest import REPO, run_penguins, step

from tfpipe.components.artifacts import is_committed
from tfpipe.components.artifacts.serving import ServingDirectory
from tfpipe.pipelines.home import serving_base

pytestmark = pytest.mark.slow

FAST = {"trainer.train_steps": 100, "evaluator.thresholds": {}}


def visible_artifacts(home: str) -> dict[str, list[str]]:
    """Every artifact a reader could see, by step; each must be committed. Hidden staging
    directories may remain after a kill (a reader never looks at them)."""
    root = os.path.join(home, "penguins", "artifacts")
    found: dict[str, list[str]] = {}
    for step_name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        for entry in os.listdir(os.path.join(root, step_name)):
            if entry.startswith(".") or ".staging-" in entry:
                continue
            assert is_committed(os.path.join(root, step_name, entry)), (step_name, entry)
            found.setdefault(step_name, []).append(entry)
    return found


def staging_left(home: str) -> list[str]:
    root = os.path.join(home, "penguins", "artifacts")
    return [
        os.path.join(step_name, entry)
        for step_name in (os.listdir(root) if os.path.isdir(root) else [])
        for entry in os.listdir(os.path.join(root, step_name))
        if ".staging-" in entry
    ]


def serving_versions_are_complete(home: str) -> list[int]:
    serving = ServingDirectory(serving_base(home), "penguins")
    for version in serving.versions():
        path = serving.version_dir(version)
        assert os.path.isfile(os.path.join(path, "saved_model.pb")), path
        assert serving.card(version), f"version {version} has no model card"
    return serving.versions()


def our_processes() -> list[psutil.Process]:
    """Live (non-zombie) descendants of this test process."""
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    ]


@pytest.mark.parametrize(
    "killed_at",
    # Each run is killed one step further on; what earlier runs committed is reused.
    [["commit:example_gen", "commit:transform", "commit:trainer", "commit:evaluator", "publish"]],
)
def test_a_component_killed_before_its_commit_leaves_nothing_visible_and_a_rerun_completes(
    tmp_path, monkeypatch, killed_at
):
    home = str(tmp_path)
    for point in killed_at:
        monkeypatch.setenv("TFPIPE_FAULT", point)
        record = run_penguins(home, FAST)
        killed = "pusher" if point == "publish" else point.split(":")[1]
        assert record["status"] == "failed", (point, record)
        failed = step(record, killed)
        assert failed["status"] == "failed" and "signal 9" in failed["error"], failed
        assert killed not in visible_artifacts(home), point  # nothing of it is visible
        assert serving_versions_are_complete(home) == []  # no version, not even half of one
        assert our_processes() == [], point  # the workers went with the run
        if point == "commit:evaluator":
            # The trainer killed in the previous run had finished training: this run restored
            # its last checkpoint and trained no step again.
            trained = step(record, "trainer")["summary"]
            assert trained["resumed_from_step"] == FAST["trainer.train_steps"], trained
    monkeypatch.delenv("TFPIPE_FAULT")
    again = run_penguins(home, FAST)
    assert again["status"] == "succeeded", again
    statuses = {s["step"]: s["status"] for s in again["steps"]}
    assert statuses == {
        "example_gen": "cached",
        "example_validator": "cached",
        "transform": "cached",
        "trainer": "cached",
        "evaluator": "cached",
        "pusher": "executed",
    }
    assert len(serving_versions_are_complete(home)) == 1
    assert staging_left(home) == []  # dead writers' staging was cleaned by the re-run


def test_a_pusher_killed_after_publishing_does_not_push_twice(tmp_path, monkeypatch):
    home = str(tmp_path)
    monkeypatch.setenv("TFPIPE_FAULT", "commit:pusher")
    record = run_penguins(home, FAST)
    assert step(record, "pusher")["status"] == "failed"
    [version] = serving_versions_are_complete(home)  # published, then killed
    monkeypatch.delenv("TFPIPE_FAULT")
    again = run_penguins(home, FAST)
    pushed = step(again, "pusher")["summary"]
    assert (
        pushed["pushed"] is False
        and f"already serving this model as version {version}" in (pushed["reason"])
    )
    assert serving_versions_are_complete(home) == [version]


def test_the_runner_killed_mid_run_leaves_no_process_and_a_rerun_completes(tmp_path):
    home = str(tmp_path)
    command = [os.path.join(REPO, "bin", "tfpipe"), "--home", home, "run", "penguins"]
    command += ["--set", "train_steps=3000"]
    runner = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scratch = os.path.join(home, "penguins", "scratch", "trainer")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (os.path.isdir(scratch) and os.listdir(scratch)):
        time.sleep(0.2)
    assert runner.poll() is None, "the run ended before training started"
    workers = psutil.Process(runner.pid).children(recursive=True)
    assert workers, "the runner had no worker process"
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    killed_at = time.monotonic()
    _gone, alive = psutil.wait_procs(workers, timeout=15)
    assert alive == [], f"left running after the runner died: {alive}"
    print(f"workers gone {time.monotonic() - killed_at:.1f}s after the runner's kill -9")
    visible_artifacts(home)  # whatever is visible is committed
    # The same command again (the same data path and parameters, so the same fingerprints).
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    [record_path] = glob.glob(os.path.join(home, "penguins", "runs", "*", "record.json"))
    with open(record_path) as f:
        again = json.load(f)  # the killed run never wrote its record
    assert again["status"] == "succeeded", again
    assert step(again, "transform")["status"] == "cached"  # committed before the kill
    assert staging_left(home) == []
