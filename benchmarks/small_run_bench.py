"""The penguins example from an empty store, as a user runs it: whole ``bin/tfpipe run penguins``
processes, without and with a warm worker (``tfpipe warm modern``), interleaved.

    .venvs/orchestrator/bin/python benchmarks/small_run_bench.py --repeats 3

Prints medians: wall and CPU seconds of the whole process tree (a borrowed worker is the warm
worker's child, so its steps' recorded CPU seconds are added), peak RSS of the CLI's tree, each
step's seconds; then the ratio warm / cold measured side by side.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.pipeline_bench import REPO, run_record, timed

STEPS = ("example_gen", "transform", "trainer", "evaluator", "pusher")


def example_run(warm_dir: str, warm: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="tfpipe-small-") as home:
        env = {**os.environ, "TFPIPE_HOME": home, "TFPIPE_WARM_DIR": warm_dir}
        proc, figures = timed([os.path.join(REPO, "bin", "tfpipe"), "run", "penguins"], env)
        if proc.returncode != 0:
            raise SystemExit(f"run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        record = run_record(home, "penguins")
    steps = {s["step"]: s for s in record["steps"]}
    # A borrowed worker is the warm worker's child, not the CLI's: add its steps' CPU seconds.
    step_cpu = sum(s.get("cpu_seconds") or 0.0 for s in steps.values()) if warm else 0.0
    return {**figures, "cpu": figures["cpu"] + step_cpu, "steps": steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from tfpipe.components.core.runtime import interpreter
    from tfpipe.components.core.warm import warm_workers

    runs: dict[str, list[dict]] = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="tfpipe-warmdir-") as warm_dir:
        os.environ["TFPIPE_WARM_DIR"] = warm_dir
        with warm_workers(["modern"], {"modern": interpreter("modern")}):
            for i in range(args.repeats):
                runs["cold"].append(example_run(os.path.join(warm_dir, "none"), False))
                runs["warm"].append(example_run(warm_dir, True))
                print(
                    f"  repeat {i + 1}: cold {runs['cold'][-1]['wall']:.1f}s, "
                    f"warm {runs['warm'][-1]['wall']:.1f}s",
                    file=sys.stderr,
                )
    med = statistics.median
    print(f"\npenguins example from an empty store, medians of {args.repeats}\n")
    print("| worker | wall s | CPU s | peak RSS MB | " + " | ".join(STEPS) + " |")
    print("|---|---|---|---|" + "---|" * len(STEPS))
    for mode, results in runs.items():
        per_step = [med([r["steps"][s]["seconds"] for r in results]) for s in STEPS]
        print(
            f"| {mode} | {med([r['wall'] for r in results]):.1f} | "
            f"{med([r['cpu'] for r in results]):.1f} | {med([r['rss'] for r in results]):.0f} | "
            + " | ".join(f"{v:.1f}" for v in per_step)
            + " |"
        )
    ratio = med([w["wall"] / c["wall"] for w, c in zip(runs["warm"], runs["cold"], strict=True)])
    print(f"\nwarm / cold wall (median of per-repeat ratios): {ratio:.2f}")


if __name__ == "__main__":
    main()
