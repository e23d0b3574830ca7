"""Time the example pipeline end to end, per component, at several data sizes.

    .venvs/modern/bin/python benchmarks/pipeline_bench.py [--sizes 344,15000,60000] [--repeats 3]

Each size runs the full pipeline (ExampleGen → Transform → Trainer 1000 steps × batch 40 →
Evaluator → Pusher) from an empty store ``--repeats`` times, then once more fully cached. Printed
figures are medians over the repeats: wall and CPU seconds per component (CPU from the worker's
rusage; the first component also pays the worker's TensorFlow import), the worker's peak RSS, and
rows/s through ExampleGen and Transform.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks.synthetic import write_penguins_like  # noqa: E402
from pipelines.local_runner import run_pipeline  # noqa: E402
from pipelines.penguins.pipeline import default_data  # noqa: E402
from pipelines.registry import load_pipeline  # noqa: E402

STEPS = ("example_gen", "transform", "trainer", "evaluator", "pusher")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one_run(data: str, runtime: str, train_steps: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="tfpipe-bench-") as home:
        overrides = {
            "runtime": runtime,
            "example_gen.input": data,
            "example_gen.schema_file": None,
            "trainer.train_steps": train_steps,
            "trainer.batch_size": 40,
            "evaluator.thresholds": {},
        }
        pipeline = load_pipeline("penguins", home).with_overrides(overrides)
        cpu0, t0 = children_cpu(), time.perf_counter()
        record = run_pipeline(pipeline, home, overrides=overrides)
        wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
        if record["status"] != "succeeded":
            raise SystemExit(f"benchmark run failed: {record}")
        # The cached re-run is timed as a user sees it: a fresh `tfpipe run` process.
        sets = [f"--set={k}={json.dumps(v)}" for k, v in overrides.items()]
        t1 = time.perf_counter()
        proc = subprocess.run(
            [os.path.join(REPO, "bin", "tfpipe"), "--home", home, "run", "penguins", *sets],
            capture_output=True,
            text=True,
        )
        cached_wall = time.perf_counter() - t1
        assert proc.returncode == 0 and "nothing to execute" in proc.stdout, proc.stdout
    steps = {s["step"]: s for s in record["steps"]}
    return {
        "wall": wall,
        "cpu": cpu,
        "cached_wall": cached_wall,
        "steps": steps,
        "rss": max(s.get("peak_rss_mb", 0) for s in steps.values()),
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="344,15000,60000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--runtime", default="modern")
    parser.add_argument("--train-steps", type=int, default=1000)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows_out = []
    with tempfile.TemporaryDirectory(prefix="tfpipe-bench-data-") as data_dir:
        for size in sizes:
            data = write_penguins_like(default_data(), os.path.join(data_dir, f"p{size}.csv"), size)
            runs = []
            for i in range(args.repeats):
                runs.append(one_run(data, args.runtime, args.train_steps))
                print(
                    f"  size {size}: repeat {i + 1}/{args.repeats} {runs[-1]['wall']:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )
            rows_out.append((size, runs))
    print(
        f"\nExample pipeline, runtime {args.runtime}, trainer {args.train_steps} steps × batch "
        f"40; medians of {args.repeats} runs\n"
    )
    header = ["rows", "total wall s", "total CPU s", "cached re-run s", "peak RSS MB"]
    header += [f"{s} s" for s in STEPS] + ["ExampleGen rows/s", "Transform rows/s"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for size, runs in rows_out:
        per_step = {s: median([r["steps"][s]["seconds"] for r in runs]) for s in STEPS}
        cells = [
            str(size),
            f"{median([r['wall'] for r in runs]):.1f}",
            f"{median([r['cpu'] for r in runs]):.1f}",
            f"{median([r['cached_wall'] for r in runs]):.2f}",
            f"{median([r['rss'] for r in runs]):.0f}",
            *[f"{per_step[s]:.1f}" for s in STEPS],
            f"{size / per_step['example_gen']:.0f}",
            f"{size / per_step['transform']:.0f}",
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
