"""A rolling window of daily drops: the first run, the window shifted by one drop in the same
home (what a daily retraining pays), and the shifted window from an empty store (what it paid
before per-drop caching), interleaved in one session.

    .venvs/orchestrator/bin/python benchmarks/window_bench.py --rows 1000000 --drops 30 \
        [--repeats 1] [--set trainer.warm_start=served]

Taxi-like data (benchmarks/taxi_data.py) cut into ``drops + 1`` daily CSV files of equal size;
window = days 0..drops-1, then 1..drops. Figures per run: wall and CPU seconds of the whole
``tfpipe run`` process tree, each step's seconds, ExampleGen + Transform together, what was
reused (drops, analyzer-cache entries), the eval AUC, and the ratio to the first run's wall.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile

from pipeline_bench import PIPELINE, REPO, STEPS, data_file, timed


def cut(source: str, drops: int, directory: str) -> list[str]:
    """``drops`` daily files of consecutive rows (each with the header), written once. By lines:
    the generated data has no quoted newlines."""
    paths = [os.path.join(directory, f"day-{d:03d}.csv") for d in range(drops)]
    if all(os.path.exists(p) for p in paths):
        return paths
    with open(source, encoding="utf-8") as f:
        header, *lines = f.readlines()
    size = -(-len(lines) // drops)
    for d, path in enumerate(paths):
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            out.write(header)
            out.writelines(lines[d * size : (d + 1) * size])
        os.replace(path + ".tmp", path)
    return paths


def run(home: str, files: list[str], extra: list[str]) -> dict:
    env = {**os.environ, "TFPIPE_HOME": home, "TFPIPE_TAXI_DATA": ",".join(files)}
    command = [os.path.join(REPO, "bin", "tfpipe"), "run", PIPELINE, *extra]
    proc, figures = timed(command, env)
    if proc.returncode != 0:
        raise SystemExit(f"pipeline run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    records = [
        os.path.join(root, "record.json")
        for root, _, names in os.walk(os.path.join(home, "taxi", "runs"))
        if "record.json" in names
    ]
    with open(max(records, key=os.path.getmtime)) as f:
        record = json.load(f)
    return {**figures, "steps": {s["step"]: s for s in record["steps"]}}


def row(name: str, r: dict, first_wall: float) -> list[str]:
    steps = r["steps"]
    seconds = {s: steps[s]["seconds"] if s in steps else 0.0 for s in STEPS}
    eg = steps["example_gen"].get("summary", {}).get("drops", {})
    analysis = steps["transform"].get("summary", {}).get("analysis", {})
    auc = steps["evaluator"].get("summary", {}).get("metrics", {}).get("auc", float("nan"))
    return [
        name,
        f"{r['wall']:.1f}",
        f"{r['cpu']:.1f}",
        *[f"{seconds[s]:.1f}" for s in STEPS],
        f"{seconds['example_gen'] + seconds['transform']:.1f}",
        f"{eg.get('reused', 0)}/{eg.get('count', 0)}",
        f"{analysis.get('reused', 0)}/{analysis.get('drops', 0)} (read {analysis.get('read', 0)})",
        f"{auc:.4f}",
        f"{r['wall'] / first_wall:.2f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--drops", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], help="passed to tfpipe run")
    parser.add_argument("--data-dir", default=os.path.expanduser("~/.cache/tfpipe/bench-data"))
    args = parser.parse_args()
    os.makedirs(args.data_dir, exist_ok=True)
    source = data_file(args.rows, args.data_dir)
    directory = os.path.join(args.data_dir, f"window-{args.rows}-{args.drops}")
    os.makedirs(directory, exist_ok=True)
    days = cut(source, args.drops + 1, directory)
    first_window, shifted_window = days[:-1], days[1:]
    extra = [a for s in args.set for a in ("--set", s)]
    results: dict[str, list[dict]] = {"first": [], "shifted": [], "shifted, empty store": []}
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="tfpipe-window-") as home:
            results["first"].append(run(home, first_window, extra))
            results["shifted"].append(run(home, shifted_window, extra))
        with tempfile.TemporaryDirectory(prefix="tfpipe-window-") as home:
            results["shifted, empty store"].append(run(home, shifted_window, extra))
        print(
            f"  repeat {i + 1}/{args.repeats}: "
            + ", ".join(f"{k} {v[-1]['wall']:.1f}s" for k, v in results.items()),
            file=sys.stderr,
            flush=True,
        )
    median = {k: sorted(v, key=lambda r: r["wall"])[len(v) // 2] for k, v in results.items()}
    first_wall = statistics.median(r["wall"] for r in results["first"])
    print(
        f"\nRolling window: {args.rows:,} taxi rows in {args.drops + 1} daily drops, a window of "
        f"{args.drops}; median run of {args.repeats} by wall {' '.join(extra)}\n"
    )
    header = [
        "run",
        "wall s",
        "CPU s",
        *[f"{s} s" for s in STEPS],
        "ExampleGen + Transform s",
        "drops reused",
        "analyzer cache",
        "eval AUC",
        "/ first",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, r in median.items():
        print("| " + " | ".join(row(name, r, first_wall)) + " |")


if __name__ == "__main__":
    main()
