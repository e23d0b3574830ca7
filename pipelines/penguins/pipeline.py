"""The penguins retraining pipeline, declared without importing TensorFlow."""

from __future__ import annotations

import importlib.util
import os

from tfpipe import Label, Pipeline, RunParam, Scoring, Step, serving_base

HERE = os.path.dirname(os.path.abspath(__file__))
USER_MODULE = os.path.join(HERE, "user_module.py")


def default_data() -> str:
    """The penguins CSV shipped inside the ``palmerpenguins`` package (found, not imported)."""
    spec = importlib.util.find_spec("palmerpenguins")
    if spec is None or not spec.origin:
        return os.path.join(HERE, "data", "penguins.csv")
    return os.path.join(os.path.dirname(spec.origin), "data", "penguins.csv")


def build(home: str) -> Pipeline:
    return Pipeline(
        name="penguins",
        description="Classify penguin species from body measurements (Palmer penguins).",
        runtime="modern",
        schedule="@daily",
        # The label, said once: preprocessing_fn's "label" output, from the raw "species"
        # column through the "species" vocabulary (the trainer and evaluator take it from here).
        label=Label("label", column="species", vocabulary="species"),
        # New data scored with the served model (tfpipe score, dags/penguins_scoring.py): the
        # measurements' context next to each prediction; a new model re-scores the last drop.
        scoring=Scoring(params={"passthrough": ["island", "sex", "year"]}, rescore_on_push=True),
        # Each knob's schema is its target parameter's (types, enums, bounds); only narrowing
        # is spelled out here.
        run_params=(
            RunParam(
                "data",
                "example_gen.input",
                {"minLength": 1},
                "path or glob (or a list of them) of the CSV / Parquet / TFRecord files to train "
                "on; empty: the Palmer penguins data shipped with the pipeline",
                optional=True,
            ),
            RunParam(
                "train_steps",
                "trainer.train_steps",
                {"maximum": 1_000_000},
                "training steps (a multiple of 100, the checkpoint interval)",
            ),
            RunParam("backend", "trainer.backend"),
            RunParam(
                "distribution",
                "trainer.distribution",
                description="none: one process; multi_worker / parameter_server: a training "
                "cluster",
            ),
            RunParam(
                "runtime",
                "runtime",
                description="modern: TF 2.21; estimator: TF 2.15 with tf.estimator",
            ),
            RunParam(
                "min_accuracy",
                "evaluator.thresholds.accuracy.lower",
                {"minimum": 0, "maximum": 1},
                "the eval accuracy a model needs to be blessed and pushed",
            ),
        ),
        steps=(
            Step(
                "example_gen",
                "example_gen",
                params={
                    "input": default_data(),
                    "split_ratios": {"train": 0.8, "eval": 0.2},
                    "schema_file": os.path.join(HERE, "schema.pbtxt"),
                },
            ),
            Step(
                "example_validator",
                "example_validator",
                params={"baseline_model_dir": os.path.join(serving_base(home), "penguins")},
                inputs={"examples": "example_gen"},
            ),
            Step(
                "transform",
                "transform",
                params={"module_file": USER_MODULE},
                inputs={"examples": "example_gen"},
                after=("example_validator",),
            ),
            Step(
                "trainer",
                "trainer",
                params={
                    "module_file": USER_MODULE,
                    "train_steps": 1000,
                    "steps_per_epoch": 100,
                    "hyperparameters": {"hidden_units": [16, 8], "learning_rate": 0.01},
                },
                inputs={"transform": "transform"},
            ),
            Step(
                "evaluator",
                "evaluator",
                params={
                    "slice_by": ["island", "sex"],
                    "thresholds": {"accuracy": {"lower": 0.9}},
                    # Compare with the model being served now; allow a little noise.
                    "baseline_model_dir": os.path.join(serving_base(home), "penguins"),
                    "change_thresholds": {"accuracy": {"max_worsening": 0.02}},
                },
                inputs={"examples": "example_gen", "model": "trainer"},
            ),
            Step(
                "pusher",
                "pusher",
                params={"serving_base": serving_base(home), "model_name": "penguins"},
                inputs={"model": "trainer", "evaluation": "evaluator"},
            ),
        ),
    )
