"""Warm start on a shifted window: a fifth of the steps from the served model vs a cold run.

    .venvs/modern/bin/python benchmarks/warm_start_bench.py [--drops 10] [--drop-rows 20000]
        [--steps 1000]

Taxi-like data (benchmarks/taxi_data.py) in daily drops of ``--drop-rows`` rows, each from its
own random stream. The taxi pipeline (benchmarks/taxi/pipeline.py) trains cold for ``--steps``
steps on drops 0..D-1 and pushes; the window then shifts by one drop (1..D) and models are
trained on it: warm (``trainer.warm_start=served``, from the pushed model, ``--steps``/5 steps)
and cold (``--steps`` steps, and a fifth of them). All are scored by the Evaluator on the same
eval split of the shifted window. Target (issue 18): the warm run's eval AUC within 0.005 of the
cold run's.

Also reported per run: the Evaluator's baseline rows scored and reused (see
components/evaluator/baseline_cache.py), and the Evaluator's step time for two evaluations
against the same served model over the same shards (the second reads the kept scores).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import pyarrow.csv as pacsv  # noqa: E402

from benchmarks.taxi_data import _Static, chunk_table  # noqa: E402
from tfpipe.pipelines.local_runner import run_pipeline  # noqa: E402
from tfpipe.pipelines.registry import load_pipeline  # noqa: E402

PIPELINE = os.path.join(REPO, "benchmarks", "taxi", "pipeline.py")
TARGET = 0.005


def write_drops(directory: str, drops: int, rows: int, seed: int = 0) -> list[str]:
    """``drops`` CSV files of ``rows`` rows each: drop d is random stream (seed, d)."""
    static, paths = _Static(seed), []
    for day in range(drops):
        path = os.path.join(directory, f"day-{day:03d}.csv")
        pacsv.write_csv(chunk_table(static, seed, day, rows), path)
        paths.append(path)
    return paths


MODULE: dict[str, str] = {}  # the user module override (--stable-vocabularies)


def run(home: str, window: list[str], steps: int, warm: bool, **more: object) -> dict:
    sets = {
        **{
            f"{step}.module_file": path
            for step in ("transform", "trainer")
            for path in MODULE.values()
        },
        "example_gen.input": window,
        "trainer.train_steps": steps,
        "trainer.steps_per_epoch": min(steps, 100),
        # served_model_dir unset: the pipeline's pusher's directory
        "trainer.warm_start": "served" if warm else "none",
        **more,
    }
    pipeline = load_pipeline(PIPELINE, home).with_overrides(sets)
    start = time.perf_counter()
    record = run_pipeline(pipeline, home, overrides=sets)
    wall = time.perf_counter() - start
    if record["status"] != "succeeded":
        raise SystemExit(f"run failed: {record.get('error')}")
    by_step = {s["step"]: s for s in record["steps"]}
    trainer, evaluator = by_step["trainer"]["summary"], by_step["evaluator"]["summary"]
    return {
        "steps": steps,
        "wall": wall,
        "train_seconds": trainer["train_seconds"],
        "auc": evaluator["metrics"]["auc"],
        "warm_start": trainer.get("warm_start", {}),
        "baseline_scored": evaluator.get("baseline_rows_scored"),
        "baseline_reused": evaluator.get("baseline_rows_reused"),
        "pushed": by_step["pusher"]["summary"].get("pushed"),
        "evaluator_seconds": by_step["evaluator"]["seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--drops", type=int, default=10, help="drops in a window")
    parser.add_argument("--drop-rows", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=1000, help="a cold run's steps")
    parser.add_argument("--home", default=None, help="keep the store here (default: temporary)")
    parser.add_argument(
        "--stable-vocabularies",
        action="store_true",
        help="the taxi module with vocabularies that keep their order as the window moves "
        "(benchmarks/taxi/stable_vocab_module.py); default: the taxi module's count-ordered ones",
    )
    args = parser.parse_args()
    if args.stable_vocabularies:
        MODULE["file"] = os.path.join(REPO, "benchmarks", "taxi", "stable_vocab_module.py")
    if args.steps % 500:
        raise SystemExit("--steps must be a multiple of 500 (a fifth of it, of 100)")
    with tempfile.TemporaryDirectory(prefix="tfpipe-warmbench-") as temporary:
        home = args.home or temporary
        os.makedirs(home, exist_ok=True)
        drops = write_drops(home, args.drops + 1, args.drop_rows)
        first, shifted = drops[: args.drops], drops[1:]
        results = [("cold, window 0..D-1", run(home, first, args.steps, warm=False))]
        print(f"  {results[-1][0]}: {results[-1][1]}", file=sys.stderr)
        results.append(("warm, window 1..D", run(home, shifted, args.steps // 5, warm=True)))
        print(f"  {results[-1][0]}: {results[-1][1]}", file=sys.stderr)
        results.append(("cold, window 1..D", run(home, shifted, args.steps, warm=False)))
        print(f"  {results[-1][0]}: {results[-1][1]}", file=sys.stderr)
        # What the same fifth of the steps reaches from random weights.
        results.append(("cold, window 1..D, a fifth", run(home, shifted, args.steps // 5, False)))
        print(f"  {results[-1][0]}: {results[-1][1]}", file=sys.stderr)
        # Two more candidates held back (a bar none passes), so the baseline stays: the first
        # evaluation scores it, the second reads its kept scores of the same shards.
        held = {"evaluator.thresholds": {"auc": {"lower": 0.9999}}}
        again = [
            run(home, shifted, args.steps // 5, False, **held, **{"trainer.seed": seed})
            for seed in (1, 2)
        ]
        print(f"  held back: {again}", file=sys.stderr)
    reference = results[2][1]["auc"]
    print(
        f"\nWarm start, taxi-like data: {args.drops} drops × {args.drop_rows:,} rows per window, "
        f"batch 40{', stable vocabularies' if MODULE else ''}; AUC on the shifted window's "
        f"eval split (target: |ΔAUC| ≤ {TARGET})\n"
    )
    header = (
        "| run | steps | pipeline wall s | train s | eval AUC | ΔAUC vs cold | warm start | "
        "baseline rows scored / reused | evaluator s |"
    )
    print(header)
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|")
    for label, r in results:
        warm = r["warm_start"]
        how = (
            f"from version {warm.get('version')}"
            if warm.get("used")
            else (warm.get("reason") or "none asked")
        )
        delta = f"{r['auc'] - reference:+.4f}" if "1..D" in label else "—"
        scored = f"{r['baseline_scored']} / {r['baseline_reused']}"
        print(
            f"| {label} | {r['steps']} | {r['wall']:.1f} | {r['train_seconds']:.1f} | "
            f"{r['auc']:.4f} | {delta} | {how} | {scored} | {r['evaluator_seconds']:.1f} |"
        )
    print("\nEvaluator, the same served model over the same eval shards (candidates held back):\n")
    print("| evaluation | baseline rows scored / reused | evaluator step s |")
    print("|---|---:|---:|")
    held_back = zip(("held back 1", "held back 2"), again, strict=True)
    compared = [("the last run above", results[-1][1]), *held_back]
    for label, r in compared:
        print(
            f"| {label} | {r['baseline_scored']} / {r['baseline_reused']} | "
            f"{r['evaluator_seconds']:.1f} |"
        )
    gap = abs(results[1][1]["auc"] - reference)
    verdict = "met" if gap <= TARGET else "MISSED"
    print(f"\nwarm vs cold on the shifted window: |ΔAUC| = {gap:.4f} ({verdict})")


if __name__ == "__main__":
    main()
