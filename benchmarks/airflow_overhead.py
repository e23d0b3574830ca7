"""Orchestration overhead: the example DAG under Airflow vs the same work's component times.

    .venvs/dev/bin/python benchmarks/airflow_overhead.py [--repeats 3] [--train-steps 1000]

Two Airflow modes, interleaved with the local runner in each repeat: "cold" (each task's step is
a new component process that imports TensorFlow) and "warm" (a warm modern worker is running and
each task's step is forked from it: tfpipe.components.core.warm).

Each repeat runs ``dag.test()`` of the ``penguins`` DAG in a fresh AIRFLOW_HOME and TFPIPE_HOME
(nothing cached) and reads, per task, the task's duration from Airflow and the component's own
execution time from its XCom result. Overhead = task duration − component time: Airflow's task
start-up plus the component CLI's process start-up (the TensorFlow import each task process pays).
The local runner's wall time for the same pipeline, measured in the same session, is the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests"))

from airflow_support import AIRFLOW, airflow_env, dag_test  # noqa: E402

from tfpipe.components.core.runtime import interpreter  # noqa: E402
from tfpipe.components.core.warm import warm_workers  # noqa: E402
from tfpipe.pipelines.local_runner import run_pipeline  # noqa: E402
from tfpipe.pipelines.registry import load_pipeline  # noqa: E402

STEPS = ("example_gen", "transform", "trainer", "evaluator", "pusher")


def airflow_run(train_steps: int, warm: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="tfpipe-afbench-") as tmp:
        if not warm:
            return _airflow_run(train_steps, tmp)
        os.environ["TFPIPE_WARM_DIR"] = os.path.join(tmp, "warm")
        try:
            with warm_workers(["modern"], {"modern": interpreter("modern")}):
                return _airflow_run(train_steps, tmp)
        finally:
            del os.environ["TFPIPE_WARM_DIR"]


def _airflow_run(train_steps: int, tmp: str) -> dict:
    env = airflow_env(tmp)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
    start = time.perf_counter()
    result = dag_test(env, "penguins", {"train_steps": train_steps, "min_accuracy": 0.5})
    wall = time.perf_counter() - start
    assert result["state"] == "success", result
    tasks = {}
    for step in STEPS:
        durations = json.loads(
            subprocess.run(
                [sys.executable, "-c", DURATION, step],
                env=env,
                capture_output=True,
                text=True,
                cwd=REPO,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        tasks[step] = {"task": durations, "component": result["xcom"][step]["seconds"]}
    return {"wall": wall, "tasks": tasks}


DURATION = """
import json, sys
from airflow.utils.session import create_session
from airflow.models.taskinstance import TaskInstance
with create_session() as s:
    ti = s.query(TaskInstance).filter(TaskInstance.task_id == sys.argv[1]).one()
    print(json.dumps(ti.duration))
"""


def local_run(train_steps: int) -> float:
    with tempfile.TemporaryDirectory(prefix="tfpipe-localbench-") as home:
        overrides = {"train_steps": train_steps, "min_accuracy": 0.5}
        pipeline = load_pipeline("penguins", home).with_overrides(overrides)
        start = time.perf_counter()
        record = run_pipeline(pipeline, home, overrides=overrides)
        assert record["status"] == "succeeded", record
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=1000)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"cold": [], "warm": []}
    local_runs: list[float] = []
    for i in range(args.repeats):
        local_runs.append(local_run(args.train_steps))
        for mode in runs:
            runs[mode].append(airflow_run(args.train_steps, warm=mode == "warm"))
        print(
            f"  repeat {i + 1}: local {local_runs[-1]:.1f}s, airflow dag.test cold "
            f"{runs['cold'][-1]['wall']:.1f}s, warm {runs['warm'][-1]['wall']:.1f}s",
            file=sys.stderr,
        )
    med = statistics.median
    local_wall = med(local_runs)
    for mode, airflow_runs in runs.items():
        print(f"\n{mode}: penguins DAG under dag.test(), medians of {args.repeats}\n")
        print("| task | Airflow task s | component s | overhead s |")
        print("|---|---|---|---|")
        total_task = total_component = 0.0
        for step in STEPS:
            task = med([r["tasks"][step]["task"] for r in airflow_runs])
            component = med([r["tasks"][step]["component"] for r in airflow_runs])
            total_task += task
            total_component += component
            print(f"| {step} | {task:.2f} | {component:.2f} | {task - component:.2f} |")
        print(
            f"| **sum** | {total_task:.2f} | {total_component:.2f} | "
            f"{total_task - total_component:.2f} |"
        )
        airflow_wall = med([r["wall"] for r in airflow_runs])
        print(
            f"\nWhole run ({mode}): Airflow dag.test {airflow_wall:.1f} s vs local runner "
            f"{local_wall:.1f} s (ratio {airflow_wall / local_wall:.2f}, same session)"
        )


if __name__ == "__main__":
    main()
