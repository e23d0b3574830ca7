"""Training throughput: Keras vs Estimator on the same model and data, 1 process vs 2 workers.

    .venvs/modern/bin/python benchmarks/trainer_bench.py [--repeats 3] [--steps 2000]

ExampleGen and Transform run once per runtime (then cached); each configuration re-trains the
penguins MLP (auto converts the same Keras model to an Estimator on the estimator runtime).
Reported: median training examples/s, the input pipeline's own examples/s, and the input time share
(input time per step / training time per step: ~0 compute-bound, ~1 waiting on input).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tfpipe.pipelines.local_runner import run_pipeline  # noqa: E402
from tfpipe.pipelines.registry import load_pipeline  # noqa: E402

CONFIGS = [
    ("Keras model.fit", "modern", {"trainer.backend": "keras"}),
    (
        "Keras MultiWorkerMirrored, 2 workers",
        "modern",
        {"trainer.backend": "auto", "trainer.distribution": "multi_worker"},
    ),
    ("Keras model.fit (TF 2.15)", "estimator", {"trainer.backend": "keras"}),
    (
        "pre-made DNNClassifier Estimator, 1 process",
        "estimator",
        {
            "trainer.backend": "estimator",
            "trainer.estimator": "DNNClassifier",
            "trainer.hyperparameters": {"hidden_units": [16, 8], "learning_rate": 0.01},
        },
    ),
    (
        "Keras→Estimator (auto), 2 workers",
        "estimator",
        {"trainer.backend": "auto", "trainer.distribution": "multi_worker"},
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tfpipe-trainbench-") as home:
        for label, runtime, overrides in CONFIGS:
            samples = []
            for seed in range(args.repeats):
                sets = {
                    "runtime": runtime,
                    "trainer.train_steps": args.steps,
                    "trainer.seed": seed,
                    "evaluator.thresholds": {},
                    **overrides,
                }
                pipeline = load_pipeline("penguins", home).with_overrides(sets)
                record = run_pipeline(pipeline, home, overrides=sets)
                if record["status"] != "succeeded":
                    raise SystemExit(f"{label} failed: {record}")
                by_step = {s["step"]: s for s in record["steps"]}
                summary = dict(by_step["trainer"]["summary"])
                summary["eval_accuracy"] = by_step["evaluator"]["summary"]["metrics"]["accuracy"]
                samples.append(summary)
                print(f"  {label}: {samples[-1]['examples_per_second']} ex/s", file=sys.stderr)
            rows.append((label, runtime, samples))
    print(
        f"\nTrainer throughput, penguins MLP, {args.steps} steps × batch 32, "
        f"medians of {args.repeats}\n"
    )
    print(
        "| configuration | runtime | train examples/s | input-only examples/s | "
        "input time share | eval accuracy |"
    )
    print("|---|---|---|---|---|---|")
    keys = ("examples_per_second", "input_examples_per_second", "input_time_share", "eval_accuracy")
    for label, runtime, samples in rows:
        med = {k: statistics.median(s[k] for s in samples) for k in keys}
        print(
            f"| {label} | {runtime} | {med['examples_per_second']:.0f} | "
            f"{med['input_examples_per_second']:.0f} | {med['input_time_share']:.2f} | "
            f"{med['eval_accuracy']:.3f} |"
        )


if __name__ == "__main__":
    main()
