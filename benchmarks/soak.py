"""Soak: the example pipeline many times in a row on changing data, then concurrent Airflow runs;
nothing may leak (processes, file descriptors, temporary files, memory).

    .venvs/dev/bin/python benchmarks/soak.py [--runs 30] [--airflow-runs 3]

The local part runs the penguins pipeline in this process (the runner's own memory and file
descriptors are what would grow), on a new random 80 % slice of the data two runs out of three
and on the previous slice otherwise (a fully cached run). After each run it prints the run's
wall time and status, this process's RSS and open descriptors, its live descendant processes and
the entries added to the temporary directory. The Airflow part starts ``airflow standalone`` (as
the tests do), triggers the example DAG ``--airflow-runs`` times at once, waits for them, and
counts the component processes left behind.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time

import psutil

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests"))

from tfpipe.components.core.runtime import apply_runtime_environment  # noqa: E402

apply_runtime_environment("modern")

from tfpipe.pipelines.local_runner import run_pipeline  # noqa: E402
from tfpipe.pipelines.penguins.pipeline import default_data  # noqa: E402
from tfpipe.pipelines.registry import load_pipeline  # noqa: E402


def live_descendants() -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    ]


def component_processes() -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(p.info["cmdline"] or [])
        if "-m tfpipe.components" in cmdline and p.status() != psutil.STATUS_ZOMBIE:
            found.append(p)
    return found


def write_slice(rows: list[list[str]], header: list[str], seed: int, path: str) -> None:
    picked = random.Random(seed).sample(rows, int(len(rows) * 0.8))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(picked)


def local_soak(runs: int, home: str, data_dir: str) -> list[dict]:
    with open(default_data(), newline="") as f:
        reader = csv.reader(f)
        header, rows = next(reader), list(reader)
    tmp = tempfile.gettempdir()
    tmp_before = set(os.listdir(tmp))  # empty: main() gives the runs a private one
    me = psutil.Process()
    table = []
    seed = 0
    for i in range(runs):
        if i % 3 != 2:
            seed += 1  # new data; every third run repeats the previous slice (cached)
        path = os.path.join(data_dir, f"slice-{seed}.csv")
        if not os.path.exists(path):
            write_slice(rows, header, seed, path)
        overrides = {"data": path, "train_steps": 300, "evaluator.thresholds": {}}
        pipeline = load_pipeline("penguins", home).with_overrides(overrides)
        start = time.perf_counter()
        record = run_pipeline(pipeline, home, overrides=overrides)
        row = {
            "run": i + 1,
            "slice": seed,
            "status": record["status"],
            "executed": len(record.get("executed", [])),
            "seconds": round(time.perf_counter() - start, 1),
            "rss_mb": round(me.memory_info().rss / 2**20, 1),
            "fds": me.num_fds(),
            "children": len(live_descendants()),
            "new_tmp_entries": len(set(os.listdir(tmp)) - tmp_before),
        }
        table.append(row)
        print("  ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    return table


def airflow_soak(concurrent: int, tmp: str) -> dict:
    from airflow_support import Standalone, airflow_env

    server = Standalone(airflow_env(tmp))
    try:
        server.wait_ready()
        server.wait_for_dag("penguins")
        server.wait_for_scheduled_runs("penguins")
        start = time.perf_counter()
        ids = [
            server.trigger("penguins", {"train_steps": 200 + 100 * i, "min_accuracy": 0.5})
            for i in range(concurrent)
        ]
        states = [server.wait_run("penguins", run_id)["state"] for run_id in ids]
        seconds = time.perf_counter() - start
        time.sleep(5)  # let task processes exit
        left = component_processes()
        return {"runs": concurrent, "states": states, "seconds": round(seconds, 1), "left": left}
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--airflow-runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tfpipe-soak-") as tmp:
        data_dir = os.path.join(tmp, "data")
        os.makedirs(data_dir)
        # A private temporary directory, inherited by every process the runs start: what is left
        # in it is what the runs leaked (and nothing else on the machine counts).
        private_tmp = os.path.join(tmp, "tmp")
        os.makedirs(private_tmp)
        os.environ["TMPDIR"] = tempfile.tempdir = private_tmp
        os.environ["TFPIPE_DATA_ROOTS"] = data_dir
        table = local_soak(args.runs, os.path.join(tmp, "home"), data_dir)
        if table:
            first, last = table[min(2, len(table) - 1)], table[-1]
            rss = [r["rss_mb"] for r in table[3:]] or [last["rss_mb"]]
            print(
                f"\nlocal: {len(table)} runs, {sum(r['status'] == 'succeeded' for r in table)} "
                f"succeeded; RSS {first['rss_mb']} MB after run 3, {min(rss)}–{max(rss)} MB over "
                f"runs 4–{last['run']}, {last['rss_mb']} MB after the last; open descriptors "
                f"{first['fds']} → {last['fds']}; live child processes after the last run "
                f"{last['children']}; entries left in the temporary directory "
                f"{last['new_tmp_entries']}"
            )
        if args.airflow_runs:
            result = airflow_soak(args.airflow_runs, os.path.join(tmp, "airflow"))
            print(
                f"airflow: {result['runs']} concurrent runs {result['states']} in "
                f"{result['seconds']} s; component processes left: {len(result['left'])}"
            )


if __name__ == "__main__":
    main()
