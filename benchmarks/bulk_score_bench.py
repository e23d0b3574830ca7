"""Batch scoring at size: ``tfpipe score`` next to a lean one-process script doing the same work
(benchmarks/lean_score.py), interleaved in the same session; and the Evaluator's memory with a
wide model, fixed 32k-row batches against batches from the memory budget.

    .venvs/orchestrator/bin/python benchmarks/bulk_score_bench.py --sizes 1000000,10000000 \
        --repeats 3 [--no-lean] [--evaluator-rows 1000000]

The model: the taxi pipeline (benchmarks/taxi/) trained once on ``--train-rows`` rows and pushed.
Each ``tfpipe score`` runs in a fresh home holding a copy of the served model (so nothing is
cached), then once more as a cached re-score. Figures are medians: wall and CPU seconds of the
whole process tree, its peak RSS (``wait4``), rows/s end to end (read the CSV, encode, transform
inside the model, predict, write Parquet) and the scoring loop's own rows/s, the batch size the
memory budget chose.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks.pipeline_bench import RUNTIME_PYTHON, data_file, lean, timed  # noqa: E402

PIPELINE = os.path.join(REPO, "benchmarks", "taxi", "pipeline.py")
TFPIPE = os.path.join(REPO, "bin", "tfpipe")


def train(home: str, data: str, hyperparameters: dict | None = None) -> dict:
    env = {**os.environ, "TFPIPE_HOME": home, "TFPIPE_TAXI_DATA": data}
    command = [TFPIPE, "run", PIPELINE, "--set", "evaluator.thresholds={}"]
    if hyperparameters:
        command += ["--set", f"trainer.hyperparameters={json.dumps(hyperparameters)}"]
    proc, _ = timed(command, env)
    if proc.returncode != 0:
        raise SystemExit(f"training failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    [record] = glob.glob(os.path.join(home, "taxi", "runs", "*", "record.json"))
    with open(record) as f:
        return {s["step"]: s for s in json.load(f)["steps"]}


def served_version(home: str) -> str:
    return sorted(glob.glob(os.path.join(home, "serving", "taxi", "[0-9]*")))[-1]


def score_run(model_home: str, data: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="tfpipe-score-bench-") as home:
        shutil.copytree(os.path.join(model_home, "serving"), os.path.join(home, "serving"))
        env = {**os.environ, "TFPIPE_HOME": home}
        command = [TFPIPE, "score", PIPELINE, "--data", data, "--out", os.path.join(home, "out")]
        proc, figures = timed(command, env)
        if proc.returncode != 0:
            raise SystemExit(f"tfpipe score failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        [record] = glob.glob(os.path.join(home, "taxi", "runs", "*", "record.json"))
        with open(record) as f:
            summary = json.load(f)["steps"][0]["summary"]
        cached, cached_figures = timed(command, env)
        assert "nothing to execute" in cached.stdout, cached.stdout
    return {**figures, "summary": summary, "cached": cached_figures["wall"]}


def lean_run(model_dir: str, data: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="tfpipe-lean-score-") as work:
        out = os.path.join(work, "predictions.parquet")
        return lean("lean_score.py", "--model", model_dir, "--data", data, "--out", out)


def evaluator_memory(rows: int, data_dir: str, repeats: int) -> None:
    """The Evaluator alone (its component CLI in a fresh process) on the eval split of a
    ``rows``-row run, with a model whose one-hot inputs are ~6k wide (pickup × dropoff area)."""
    with tempfile.TemporaryDirectory(prefix="tfpipe-eval-bench-") as home:
        steps = train(home, data_file(rows, data_dir), {"wide_cross": True})
        examples, model = steps["example_gen"]["uri"], steps["trainer"]["uri"]
        results: dict[str, list[dict]] = {"32768 (fixed, as before)": [], "memory budget": []}
        for i in range(repeats):
            for label, params in (
                ("32768 (fixed, as before)", {"batch_size": 32768}),
                ("memory budget", {}),
            ):
                root = os.path.join(home, f"eval-{i}-{len(results[label])}", "artifacts")
                proc, figures = timed(
                    [
                        RUNTIME_PYTHON.format("modern"),
                        "-m",
                        "tfpipe.components",
                        "evaluator",
                        "--params",
                        json.dumps(params),
                        "--input",
                        f"examples={examples}",
                        "--input",
                        f"model={model}",
                        "--artifacts-root",
                        root,
                    ],
                    {**os.environ, "PYTHONPATH": os.path.join(REPO, ".venvs", "src")},
                )
                if proc.returncode != 0:
                    raise SystemExit(f"evaluator failed:\n{proc.stdout[-3000:]}")
                summary = json.loads(proc.stdout.strip().splitlines()[-1])["summary"]
                results[label].append({**figures, "summary": summary})
        print(f"\nEvaluator alone, {rows:,}-row run (eval split), wide model, medians of {repeats}")
        print("| batches | batch size | peak RSS MB | wall s | rows/s |")
        print("|---|---|---|---|---|")
        for label, runs in results.items():
            rss = statistics.median(r["rss"] for r in runs)
            wall = statistics.median(r["wall"] for r in runs)
            rate = statistics.median(r["summary"]["rows_per_second"] for r in runs)
            size = runs[-1]["summary"]["batch_size"]
            print(f"| {label} | {size:,} | {rss:.0f} | {wall:.1f} | {rate:,.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-rows", type=int, default=150_000)
    parser.add_argument("--no-lean", action="store_true")
    parser.add_argument("--evaluator-rows", type=int, default=0, help="0: skip that part")
    parser.add_argument(
        "--model-home", default="", help="a home whose served taxi model is reused (else trained)"
    )
    parser.add_argument(
        "--data-dir",
        default=os.path.expanduser("~/.cache/tfpipe/bench-data"),
        help="generated CSVs are kept here between runs",
    )
    args = parser.parse_args()
    os.makedirs(args.data_dir, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="tfpipe-model-") as scratch:
        model_home = args.model_home or scratch
        if sizes and not glob.glob(os.path.join(model_home, "serving", "taxi", "[0-9]*")):
            train(model_home, data_file(args.train_rows, args.data_dir))
        results = {}
        for size in sizes:
            data = data_file(size, args.data_dir)
            runs, leans = [], []
            for i in range(args.repeats):  # interleaved: both see the same machine state
                runs.append(score_run(model_home, data))
                if not args.no_lean:
                    leans.append(lean_run(served_version(model_home), data))
                print(
                    f"  {size} rows, repeat {i + 1}/{args.repeats}: tfpipe {runs[-1]['wall']:.1f}s"
                    + (f", lean {leans[-1]['wall']:.1f}s" if leans else ""),
                    file=sys.stderr,
                    flush=True,
                )
            results[size] = (runs, leans)
    if sizes:
        print(f"\nBatch scoring of the taxi model, medians of {args.repeats} (lean_score.py)\n")
        header = [
            "rows",
            "tfpipe wall s",
            "rows/s end to end",
            "scoring loop rows/s",
            "CPU s",
            "peak RSS MB",
            "batch size",
            "lean wall s",
            "lean rows/s",
            "lean CPU s",
            "lean RSS MB",
            "tfpipe / lean",
            "cached s",
        ]
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        med = statistics.median
        for size, (runs, leans) in results.items():
            wall = med(r["wall"] for r in runs)
            lean_wall = med(r["wall"] for r in leans) if leans else float("nan")
            cells = [
                f"{size:,}",
                f"{wall:.1f}",
                f"{size / wall:,.0f}",
                f"{med(r['summary']['rows_per_second'] for r in runs):,.0f}",
                f"{med(r['cpu'] for r in runs):.1f}",
                f"{med(r['rss'] for r in runs):.0f}",
                f"{runs[-1]['summary']['batch_size']:,}",
                f"{lean_wall:.1f}",
                f"{size / lean_wall:,.0f}" if leans else "–",
                f"{med(r['cpu'] for r in leans):.1f}" if leans else "–",
                f"{med(r['rss'] for r in leans):.0f}" if leans else "–",
                f"{wall / lean_wall:.2f}" if leans else "–",
                f"{med(r['cached'] for r in runs):.2f}",
            ]
            print("| " + " | ".join(cells) + " |")
    if args.evaluator_rows:
        evaluator_memory(args.evaluator_rows, args.data_dir, args.repeats)


if __name__ == "__main__":
    main()
