"""The taxi pipeline end to end at several sizes, next to a lean one-process script doing the same
work (benchmarks/lean_script.py), interleaved in the same session.

    .venvs/orchestrator/bin/python benchmarks/pipeline_bench.py --sizes 15000,150000,1000000 \
        --repeats 3 [--no-lean] [--runtime modern]

Every pipeline run starts from an empty store (a fresh ``tfpipe run`` process: planning, one
worker, the report), then a fully cached re-run is timed the same way. Figures are medians over
the repeats: wall and CPU seconds of the whole process tree, its peak RSS, each step's seconds,
rows/s through ExampleGen, Transform and the Evaluator's scoring; the ratio to the lean script;
and each step's growth exponent between the two largest sizes (1.0 = linear).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = ("example_gen", "transform", "trainer", "evaluator", "pusher")
PIPELINE = os.path.join(REPO, "benchmarks", "taxi", "pipeline.py")
RUNTIME_PYTHON = os.path.join(REPO, ".venvs", "{}", "bin", "python")


def timed(command: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, dict]:
    """Run a command; its wall time, and the CPU seconds and peak RSS of its own process tree
    (``wait4`` on that child: runs measured before it do not leak into its figures)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        errors.seek(0)
        err = errors.read()
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    done = subprocess.CompletedProcess(command, code, out, err)
    return done, {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss": usage.ru_maxrss / 1024,
    }


def data_file(rows: int, directory: str) -> str:
    path = os.path.join(directory, f"taxi-{rows}.csv")
    if not os.path.exists(path):
        subprocess.run(
            [
                RUNTIME_PYTHON.format("modern"),
                os.path.join(REPO, "benchmarks", "taxi_data.py"),
                "--rows",
                str(rows),
                "--out",
                path,
            ],
            check=True,
            capture_output=True,
        )
    return path


def run_record(home: str, pipeline: str) -> dict:
    """The record of the one run of ``pipeline`` under ``home``."""
    path = next(
        os.path.join(root, "record.json")
        for root, _, files in os.walk(os.path.join(home, pipeline, "runs"))
        if "record.json" in files
    )
    with open(path) as f:
        return json.load(f)


def pipeline_run(data: str, runtime: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="tfpipe-bench-") as home:
        env = {**os.environ, "TFPIPE_HOME": home, "TFPIPE_TAXI_DATA": data}
        command = [os.path.join(REPO, "bin", "tfpipe"), "run", PIPELINE]
        if runtime != "modern":
            command += ["--set", f"runtime={runtime}"]
        proc, figures = timed(command, env)
        if proc.returncode != 0:
            raise SystemExit(f"pipeline run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        record = run_record(home, "taxi")
        cached, cached_figures = timed(command, env)
        assert "nothing to execute" in cached.stdout, cached.stdout
    steps = {s["step"]: s for s in record["steps"]}
    return {**figures, "cached": cached_figures["wall"], "steps": steps}


def lean(script: str, *args: str) -> dict:
    """A lean script of benchmarks/ in the modern runtime: its process figures and the JSON line
    it prints last."""
    proc, figures = timed(
        [RUNTIME_PYTHON.format("modern"), os.path.join(REPO, "benchmarks", script), *args],
        {**os.environ, "PYTHONPATH": REPO},
    )
    if proc.returncode != 0:
        raise SystemExit(f"{script} failed:\n{proc.stderr[-3000:]}")
    return {**figures, **json.loads(proc.stdout.strip().splitlines()[-1])}


def lean_run(data: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="tfpipe-lean-") as work:
        result = lean("lean_script.py", "--data", data, "--work", work)
    return {**result, "auc": result["eval_auc"]}


def med(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="15000,150000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--runtime", default="modern")
    parser.add_argument("--no-lean", action="store_true")
    parser.add_argument(
        "--data-dir",
        default=os.path.expanduser("~/.cache/tfpipe/bench-data"),
        help="generated CSVs are kept here between runs",
    )
    args = parser.parse_args()
    os.makedirs(args.data_dir, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    for size in sizes:
        data = data_file(size, args.data_dir)
        runs, leans = [], []
        for i in range(args.repeats):  # interleaved: both see the same machine state
            runs.append(pipeline_run(data, args.runtime))
            if not args.no_lean:
                leans.append(lean_run(data))
            print(
                f"  {size} rows, repeat {i + 1}/{args.repeats}: tfpipe {runs[-1]['wall']:.1f}s"
                + (f", lean {leans[-1]['wall']:.1f}s" if leans else ""),
                file=sys.stderr,
                flush=True,
            )
        results[size] = (runs, leans)

    print(
        f"\nTaxi pipeline (runtime {args.runtime}; trainer 1000 steps × 40), "
        f"medians of {args.repeats}; lean = benchmarks/lean_script.py in the same session\n"
    )
    header = [
        "rows",
        "tfpipe wall s",
        "CPU s",
        "peak RSS MB",
        "lean wall s",
        "lean CPU s",
        "lean RSS MB",
        "tfpipe / lean",
        "cached s",
        *[f"{s} s" for s in STEPS],
        "ExampleGen rows/s",
        "Transform rows/s",
        "Evaluator rows/s",
        "eval AUC",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for size, (runs, leans) in results.items():
        step = {s: med([r["steps"][s]["seconds"] for r in runs]) for s in STEPS}
        summary = {s: runs[-1]["steps"][s].get("summary", {}) for s in STEPS}
        wall = med([r["wall"] for r in runs])
        lean_wall = med([r["wall"] for r in leans]) if leans else float("nan")
        cells = [
            f"{size:,}",
            f"{wall:.1f}",
            f"{med([r['cpu'] for r in runs]):.1f}",
            f"{med([r['rss'] for r in runs]):.0f}",
            f"{lean_wall:.1f}",
            f"{med([r['cpu'] for r in leans]) if leans else float('nan'):.1f}",
            f"{med([r['rss'] for r in leans]) if leans else float('nan'):.0f}",
            f"{wall / lean_wall:.2f}" if leans else "–",
            f"{med([r['cached'] for r in runs]):.2f}",
            *[f"{step[s]:.1f}" for s in STEPS],
            f"{med([r['steps']['example_gen']['summary']['rows_per_second'] for r in runs]):,.0f}",
            f"{med([r['steps']['transform']['summary']['rows_per_second'] for r in runs]):,.0f}",
            f"{med([r['steps']['evaluator']['summary']['rows_per_second'] for r in runs]):,.0f}",
            f"{summary['evaluator'].get('metrics', {}).get('auc', float('nan')):.4f}",
        ]
        print("| " + " | ".join(cells) + " |")
    if len(sizes) >= 2:
        small, large = sizes[-2], sizes[-1]
        print(
            f"\nGrowth exponent of each step from {small:,} to {large:,} rows "
            "(log time ratio / log size ratio; 1.0 = linear, below 1 = fixed costs dominate):"
        )
        for s in [*STEPS, "total"]:

            def t(size: int, s: str = s) -> float:
                runs = results[size][0]
                return med([r["wall"] if s == "total" else r["steps"][s]["seconds"] for r in runs])

            exponent = math.log(t(large) / t(small)) / math.log(large / small)
            print(f"- {s}: {exponent:.2f}")


if __name__ == "__main__":
    main()
