"""Fault table, row 4: distributed training. A worker that dies fails the run naming the task, and
a re-run resumes from the last checkpoint; a supervisor that dies takes its cluster with it within
seconds (each task holds a lifeline to it, components/core/lifeline.py). The parameter-server
case (a ps task, which would otherwise wait in ``server.join()`` forever) is in
tests/test_trainer_backends.py."""

from __future__ import annotations

import glob
import json
import os
import signal
import threading
import time

import psutil
import pytest
from conftest import run_penguins, step

pytestmark = pytest.mark.slow

# Long enough that the kill (after the second of twelve checkpoints) comes mid-training, short
# enough that the resumed run is not most of the suite's time.
LONG = {
    "trainer.distribution": "multi_worker",
    "trainer.train_steps": 1200,
    "trainer.steps_per_epoch": 100,
}


def pid_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def start_cluster_run(home: str, result: dict) -> tuple[threading.Thread, dict[str, int]]:
    """Start a long two-worker run in a thread; return once its second checkpoint exists."""
    run_penguins(home, {"trainer.train_steps": 1})  # ExampleGen + Transform, so timing is tight
    thread = threading.Thread(target=lambda: result.update(run_penguins(home, LONG)))
    thread.start()
    scratch = os.path.join(home, "penguins", "scratch", "trainer")
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        states = glob.glob(os.path.join(scratch, "*", "cluster.json"))
        backups = glob.glob(os.path.join(scratch, "*", "checkpoints", "epoch-0002*"))
        if states and backups:
            return thread, json.load(open(states[0]))["pids"]
        time.sleep(0.1)
    raise AssertionError("the cluster never wrote its second checkpoint")


def test_killed_worker_fails_the_run_by_name_and_a_rerun_resumes(tmp_path):
    home = str(tmp_path)
    result: dict = {}
    thread, pids = start_cluster_run(home, result)
    os.kill(pids["worker:0"], signal.SIGKILL)
    thread.join(timeout=300)
    assert result["status"] == "failed"
    assert step(result, "trainer")["error"].startswith(
        "training task worker:0 failed (killed by signal 9)"
    )
    assert not any(pid_alive(p) for p in pids.values())

    again = run_penguins(home, LONG)
    assert again["status"] == "succeeded", again
    summary = step(again, "trainer")["summary"]
    assert summary["resumed_from_step"] >= 200  # global step did not restart at 0
    assert summary["steps"] == 1200


def test_a_supervisor_killed_takes_its_cluster_with_it_within_seconds(tmp_path):
    home = str(tmp_path)
    result: dict = {}
    thread, pids = start_cluster_run(home, result)
    supervisor = psutil.Process(psutil.Process(pids["chief:0"]).ppid())
    assert "components" in " ".join(supervisor.cmdline())  # the step's worker process
    supervisor.kill()
    killed_at = time.monotonic()
    tasks = [psutil.Process(p) for p in pids.values() if pid_alive(p)]
    _gone, alive = psutil.wait_procs(tasks, timeout=15)
    seconds = time.monotonic() - killed_at
    assert alive == [], f"cluster tasks outlived their supervisor: {alive}"
    print(f"cluster gone {seconds:.1f}s after its supervisor's kill -9")
    thread.join(timeout=120)
    assert result["status"] == "failed"
    assert "killed by signal 9" in step(result, "trainer")["error"]
