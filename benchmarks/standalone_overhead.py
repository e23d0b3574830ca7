"""The penguins DAG on a real ``airflow standalone`` (scheduler, LocalExecutor, API server), with a
warm modern worker serving as ``make airflow`` starts one, against the local runner on the same
pipeline, interleaved in the same session.

    .venvs/dev/bin/python benchmarks/standalone_overhead.py --repeats 3

Each repeat empties the DAG's store first (artifacts and served models), triggers the DAG over REST
and measures from the trigger's answer to the report task's end (Airflow's own timestamps: the run's
``queued_at`` and the report task's ``end_date``); the local run is ``run_pipeline`` from an empty
store with the same warm worker serving.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from datetime import datetime

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests"))

from airflow_support import Standalone, airflow_env  # noqa: E402

from benchmarks.airflow_overhead import local_run  # noqa: E402
from tfpipe.components.core.runtime import interpreter  # noqa: E402
from tfpipe.components.core.warm import warm_workers  # noqa: E402

CONF = {"train_steps": 1000, "min_accuracy": 0.5}


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def airflow_run(server: Standalone, home: str) -> dict:
    for folder in ("penguins", "serving"):
        shutil.rmtree(os.path.join(home, folder), ignore_errors=True)
    run_id = server.trigger("penguins", CONF)
    run = server.wait_run("penguins", run_id)
    assert run["state"] == "success", run
    tis = server.task_instances("penguins", run_id)
    end = _time(tis["report"]["end_date"])
    first = min(_time(ti["start_date"]) for ti in tis.values() if ti.get("start_date"))
    return {
        "wall": (end - _time(run["queued_at"])).total_seconds(),
        "to_first_task": (first - _time(run["queued_at"])).total_seconds(),
        "tasks": {k: ti.get("duration") or 0.0 for k, ti in tis.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tfpipe-standalone-bench-") as tmp:
        os.environ["TFPIPE_WARM_DIR"] = os.path.join(tmp, "warm")
        env = airflow_env(tmp, TFPIPE_WARM_DIR=os.environ["TFPIPE_WARM_DIR"])
        with warm_workers(["modern"], {"modern": interpreter("modern")}):
            server = Standalone(env)
            try:
                server.wait_ready()
                server.wait_for_dag("penguins")
                local, airflow = [], []
                for i in range(args.repeats):
                    local.append(local_run(CONF["train_steps"]))
                    airflow.append(airflow_run(server, env["TFPIPE_HOME"]))
                    print(
                        f"  repeat {i + 1}: local {local[-1]:.1f}s, standalone "
                        f"{airflow[-1]['wall']:.1f}s",
                        file=sys.stderr,
                    )
            finally:
                server.stop()
    med = statistics.median
    wall = med([a["wall"] for a in airflow])
    print(f"\npenguins on airflow standalone (warm worker), medians of {args.repeats}\n")
    print("| task | task s |")
    print("|---|---|")
    for task in airflow[0]["tasks"]:
        print(f"| {task} | {med([a['tasks'][task] for a in airflow]):.2f} |")
    print(
        f"\ntrigger → first task start {med([a['to_first_task'] for a in airflow]):.1f} s; "
        f"trigger → report task end {wall:.1f} s vs local runner {med(local):.1f} s "
        f"(ratio {wall / med(local):.2f}, same session)"
    )


if __name__ == "__main__":
    main()
