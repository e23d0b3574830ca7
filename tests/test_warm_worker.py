"""Warm runtime workers: an Airflow task's step forked from an interpreter that has TensorFlow
imported. The step computes what a fresh process computes, dies with its task, and a dead warm
worker is bypassed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from conftest import REPO

from tfpipe.components.artifacts import is_committed
from tfpipe.components.core.runtime import interpreter
from tfpipe.components.core.warm import socket_path, warm_workers
from tfpipe.pipelines.engine import plan
from tfpipe.pipelines.registry import load_pipeline

pytestmark = pytest.mark.slow

# A task's body: plan the penguins pipeline and run the named steps as the Airflow task does.
TASK = """
import json, sys
from tfpipe.pipelines.engine import plan, run_step_process
from tfpipe.pipelines.registry import load_pipeline
home, steps, overrides = sys.argv[1], sys.argv[2].split(","), json.loads(sys.argv[3])
import os; os.makedirs(home, exist_ok=True)
pipeline = load_pipeline("penguins", home).with_overrides(overrides)
for inv in plan(pipeline, home):
    if inv.step in steps:
        result, seconds, cpu = run_step_process(inv, "task", f"{home}/{inv.step}.log")
        print("@@" + json.dumps({"step": inv.step, "ok": result.get("ok"), "cpu": cpu}), flush=True)
"""


@pytest.fixture()
def warm(tmp_path, monkeypatch):
    monkeypatch.setenv("TFPIPE_WARM_DIR", str(tmp_path / "warm"))
    with warm_workers(["modern"], {"modern": interpreter("modern")}) as procs:
        yield procs[0]


def task(home: str, steps: str, overrides: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", TASK, home, steps, json.dumps(overrides or {})],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": REPO},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_borrowed_steps_compute_what_fresh_processes_compute(tmp_path, warm):
    home = str(tmp_path / "home")
    proc = task(home, "example_gen,example_validator,transform")
    out, _ = proc.communicate(timeout=600)
    results = [json.loads(line[2:]) for line in out.splitlines() if line.startswith("@@")]
    assert [r["step"] for r in results] == ["example_gen", "example_validator", "transform"], out
    assert all(r["ok"] for r in results), out
    assert all(r["cpu"] > 0 for r in results), results  # the forked process's CPU is counted
    assert out.count("forked by the warm modern worker") == 3, out
    # The same artifacts a fresh process commits: the plan finds them all.
    pipeline = load_pipeline("penguins", home)
    committed = {inv.step for inv in plan(pipeline, home) if is_committed(inv.uri)}
    assert {"example_gen", "example_validator", "transform"} <= committed
    assert warm.poll() is None  # the warm worker serves on


def test_a_borrowed_step_dies_with_its_task_and_a_dead_warm_worker_is_bypassed(tmp_path, warm):
    home = str(tmp_path / "home")
    prepared = task(home, "example_gen,example_validator,transform")
    prepared.communicate(timeout=600)
    trainer = task(home, "trainer", {"trainer.train_steps": 200_000})
    step_pid = None
    deadline = time.monotonic() + 300
    assert trainer.stdout
    for line in trainer.stdout:
        if "forked by the warm modern worker" in line:
            step_pid = int(line.split("step process ")[1].split()[0])
        if "step 100" in line or "epoch 1/" in line:
            break
        assert time.monotonic() < deadline, "the trainer did not start"
    assert step_pid and psutil.pid_exists(step_pid)
    os.killpg(trainer.pid, signal.SIGKILL)  # the task dies as a killed Airflow task does
    trainer.wait()
    deadline = time.monotonic() + 30
    while psutil.pid_exists(step_pid) and psutil.Process(step_pid).status() != "zombie":
        assert time.monotonic() < deadline, "the borrowed step outlived its task"
        time.sleep(0.2)
    # Nothing of the step's process group is left (its children end with it, within seconds).
    while left := _running_in_group(step_pid):
        assert time.monotonic() < deadline, f"the borrowed step's group outlived it: {left}"
        time.sleep(0.2)
    assert warm.poll() is None

    # The warm worker dies: its socket stays behind, the next task bypasses it and removes it.
    os.killpg(warm.pid, signal.SIGKILL)
    warm.wait()
    stale = socket_path("modern")
    assert os.path.exists(stale)
    again = task(home, "trainer", {"trainer.train_steps": 100})
    out, _ = again.communicate(timeout=600)
    assert '"ok": true' in out and "forked by the warm" not in out, out
    assert not os.path.exists(stale)


def _running_in_group(group: int) -> list[int]:
    """The processes of a process group that still run (a zombie runs nothing)."""
    found = []
    for p in psutil.process_iter():
        try:
            if _group(p.pid) == group and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p.pid)
        except psutil.NoSuchProcess:
            pass
    return found


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_a_local_run_borrows_its_worker_and_computes_what_a_started_one_computes(tmp_path, warm):
    from tfpipe.pipelines.local_runner import run_pipeline

    overrides = {"trainer.train_steps": 100}
    records = {}
    for name in ("borrowed", "started"):
        home = str(tmp_path / name)
        if name == "started":  # no warm worker serves this run: it starts its own worker
            os.killpg(warm.pid, signal.SIGTERM)
            warm.wait(timeout=30)
        pipeline = load_pipeline("penguins", home).with_overrides(overrides)
        records[name] = run_pipeline(pipeline, home, overrides=overrides)
        assert records[name]["status"] == "succeeded", records[name].get("error")
    logs = {n: "".join(open(p).read() for p in r["worker_logs"]) for n, r in records.items()}
    assert "forked by the warm modern worker" in logs["borrowed"]
    assert "forked by the warm" not in logs["started"]
    # Every step executed in both, on the same rows, into models of the same quality (the
    # training itself is not bit-reproducible across process environments).
    steps = {n: {s["step"]: s for s in r["steps"]} for n, r in records.items()}
    for name in steps:
        assert {s["status"] for s in steps[name].values()} == {"executed"}, steps[name]
    summary = {n: {k: v["summary"] for k, v in s.items()} for n, s in steps.items()}
    borrowed, started = summary["borrowed"], summary["started"]
    assert borrowed["example_gen"]["splits"] == started["example_gen"]["splits"]
    assert borrowed["transform"]["rows"] == started["transform"]["rows"]
    assert (
        borrowed["transform"]["transformed_features"]
        == started["transform"]["transformed_features"]
    )
    assert borrowed["trainer"]["steps"] == started["trainer"]["steps"] == 100
    for s in (borrowed, started):
        assert s["evaluator"]["metrics"]["accuracy"] >= 0.9 and s["evaluator"]["blessed"]
    # The borrowed worker ended with the run: no process of its group is left.
    pid = int(logs["borrowed"].split("worker process ")[1].split()[0])
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
