"""The taxi retraining pipeline of the benchmarks (TFX's Chicago taxi example, same work):
ExampleGen → Transform → Trainer (Keras, 1000 steps × 40) → Evaluator (derived label, AUC gate
against the served model) → Pusher. Data: ``$TFPIPE_TAXI_DATA`` (see benchmarks/taxi_data.py)."""

from __future__ import annotations

import os

from tfpipe import Pipeline, Step, serving_base

USER_MODULE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "user_module.py")


def build(home: str) -> Pipeline:
    # A file or glob, or a comma-separated window of daily files (benchmarks/window_bench.py).
    given = os.environ.get("TFPIPE_TAXI_DATA", "taxi.csv")
    data: str | list[str] = given.split(",") if "," in given else given
    return Pipeline(
        name="taxi",
        description="Did the rider tip more than 20 %? (Chicago-taxi-like data)",
        steps=(
            Step("example_gen", "example_gen", {"input": data}),
            Step(
                "transform", "transform", {"module_file": USER_MODULE}, {"examples": "example_gen"}
            ),
            Step(
                "trainer",
                "trainer",
                {
                    "module_file": USER_MODULE,
                    "label": "tipped",
                    "raw_label": "tips",
                    "train_steps": 1000,
                    "steps_per_epoch": 250,
                    "batch_size": 40,
                    "eval_steps": 25,
                },
                {"transform": "transform"},
            ),
            Step(
                "evaluator",
                "evaluator",
                {
                    "thresholds": {"auc": {"lower": 0.6}},
                    "change_thresholds": {"auc": {"max_worsening": 0.01}},
                    "baseline_model_dir": os.path.join(serving_base(home), "taxi"),
                },
                {"examples": "example_gen", "model": "trainer"},
            ),
            Step(
                "pusher",
                "pusher",
                {"serving_base": serving_base(home), "model_name": "taxi"},
                {"model": "trainer", "evaluation": "evaluator"},
            ),
        ),
    )
