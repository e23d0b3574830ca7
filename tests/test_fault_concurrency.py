"""Fault table, row 3: concurrency. Two runs of one pipeline on the same inputs at once compute
each artifact once (an ``fcntl`` lock per artifact: the second waits and finds the commit);
a model evaluated against version N is never pushed over version N+1 (a compare-and-swap under
the serving directory's lock); a push during a rollback waits for it and then refuses, because
the version it was evaluated against is no longer the newest."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
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


def test_a_push_during_a_rollback_waits_for_it_then_refuses(tmp_path, monkeypatch):
    """Deterministic: the rollback holds the serving lock until the push is blocked on it, so the
    only correct outcome is one order of events and a refused push (a broken lock fails this)."""
    serving = ServingDirectory(str(tmp_path), "m")
    model = tmp_path / "model"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(b"x")
    first = serving.publish(str(model), expected_latest=None)
    second = serving.publish(str(model), expected_latest=first)
    events: list[str] = []
    in_rollback, push_waiting = threading.Event(), threading.Event()
    move_aside, locked = serving._move_aside, serving.locked

    def move_aside_once_the_push_waits(version: int) -> None:
        events.append("rollback holds the lock")
        in_rollback.set()
        assert push_waiting.wait(30)
        time.sleep(0.3)  # the push is in flock() by now, and must stay there
        events.append("rollback moves a version aside")
        move_aside(version)

    @contextlib.contextmanager
    def traced_lock():
        pushing = threading.current_thread().name == "push"
        if pushing:
            events.append("push waits for the lock")
            push_waiting.set()
        with locked() as held:
            if pushing:
                events.append("push has the lock")
            yield held

    monkeypatch.setattr(serving, "_move_aside", move_aside_once_the_push_waits)
    monkeypatch.setattr(serving, "locked", traced_lock)
    outcome: dict = {}

    def rollback() -> None:
        outcome["rollback"] = serving.rollback()

    def push() -> None:
        assert in_rollback.wait(30)
        try:  # evaluated against the newest version before the rollback
            outcome["pushed"] = serving.publish(str(model), expected_latest=second)
        except StaleBaseline as exc:
            outcome["refused"] = str(exc)

    def recorded(target):
        def body() -> None:
            try:
                target()
            except BaseException as exc:  # an assertion in a thread must fail the test
                outcome.setdefault("errors", []).append(repr(exc))

        return body

    threads = [
        threading.Thread(target=recorded(rollback), name="rollback"),
        threading.Thread(target=recorded(push), name="push"),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), f"thread {t.name} did not finish"
    assert "errors" not in outcome and "pushed" not in outcome, outcome
    assert events == [
        "rollback holds the lock",
        "push waits for the lock",
        "rollback moves a version aside",
        "push has the lock",
    ]
    assert outcome["rollback"] == ([second], first)
    assert f"version {first} was published" in outcome["refused"]
    assert f"against version {second}" in outcome["refused"]
    assert serving.versions() == [first] and serving.rolled_back() == [second]
    assert not [e for e in os.listdir(serving.model_dir) if e.startswith(".incoming-")]


@pytest.mark.slow
@pytest.mark.parametrize("change", ["rollback", "prune"])
def test_the_evaluator_scores_a_pinned_baseline_while_a_rollback_or_prune_runs(
    modern_run, tmp_path, change
):
    """The served baseline is moved aside (rollback) or deleted (a newer push, then a prune)
    just as the Evaluator starts scoring it: it scores its private copy, and the serving
    directory is changed as asked."""
    from tfpipe.components.artifacts import ModelEvaluation, open_artifact
    from tfpipe.components.core.execute import resolve

    home, record = modern_run
    served = ServingDirectory(serving_base(home), "penguins")
    model = str(tmp_path / "baseline_model")  # the same model, pushed as another one
    shutil.copytree(served.version_dir(served.latest()), model)
    write_model_card(model, {"model_fingerprint": "someone-else"}, "# baseline\n")
    serving = ServingDirectory(str(tmp_path / "serving"), "penguins")
    v1 = serving.publish(model, expected_latest=None)
    v2 = serving.publish(model, expected_latest=v1)
    params = dict(load_pipeline("penguins", home).step("evaluator").params)
    params["baseline_model_dir"] = serving.model_dir
    inputs = {"examples": step(record, "example_gen"), "model": step(record, "trainer")}
    inv = resolve(
        component="evaluator",
        step="evaluator",
        raw_params=params,
        input_uris={name: s["uri"] for name, s in inputs.items()},
        input_fingerprints={name: s["fingerprint"] for name, s in inputs.items()},
        runtime="modern",
        artifacts_root=str(tmp_path / "store"),
    )
    assert inv.external.values["baseline_version"] == v2
    changed = []

    def progress(message: str) -> None:
        if message.startswith("scoring"):  # the baseline is about to be read
            if change == "rollback":
                changed.append(serving.rollback())
            else:
                changed.append(serving.publish(model, expected_latest=v2))
                changed.append(serving.prune(keep_last=1))

    result = execute(inv, "pinned", progress=progress)
    if change == "rollback":
        assert changed == [([v2], v1)] and serving.versions() == [v1]
    else:
        assert changed[1] == [v1, v2] and serving.versions() == [changed[0]]
    assert result["summary"]["baseline_version"] == v2
    evaluation = open_artifact(result["uri"], ModelEvaluation).evaluation()
    assert evaluation["baseline"]["version"] == v2
    # The same model as the candidate, scored on the same rows: the same accuracy.
    accuracy = evaluation["baseline"]["overall"]["accuracy"]
    assert accuracy == pytest.approx(evaluation["metrics"]["accuracy"])
