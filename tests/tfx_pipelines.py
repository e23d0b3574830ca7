"""TFX's taxi and penguin pipelines, as a TFX user writes them for tfpipe: the module file holds
``preprocessing_fn`` and ``run_fn``; the Trainer needs only the module and step counts; the
Evaluator takes TFMA's EvalConfig (the taxi pipeline's as TFMA text format, the penguins' as a
dict), with the transformed label as ``label_key`` and metric class names with thresholds.

``build(home)`` is the pipeline a DAG file builds (``TFPIPE_TFX_PIPELINE``: taxi or penguins;
``TFPIPE_TFX_DATA``, ``TFPIPE_TFX_MODULE``); the ``materialize`` run parameter sets Transform's
``materialize`` per DAG run.
"""

from __future__ import annotations

import os
from typing import Any

from tfpipe import Pipeline, RunParam, Step, serving_base

HERE = os.path.dirname(os.path.abspath(__file__))
TAXI_MODULE = os.path.join(HERE, "modules", "tfx_taxi_module.py")

# TFX's taxi Evaluator config (tfx/examples/chicago_taxi_pipeline), in TFMA's text format.
TAXI_EVAL_CONFIG = """
model_specs {
  signature_name: "serving_default"
  label_key: "tips_xf"
  preprocessing_function_names: "transform_features"
}
slicing_specs {}
slicing_specs { feature_keys: ["payment_type"] }
metrics_specs {
  metrics { class_name: "ExampleCount" }
  metrics {
    class_name: "BinaryAccuracy"
    threshold {
      value_threshold { lower_bound { value: 0.6 } }
      # no worse than the model served now, give or take 5 points
      change_threshold { direction: HIGHER_IS_BETTER absolute { value: -0.05 } }
    }
  }
  metrics {
    class_name: "AUC"
    threshold { value_threshold { lower_bound { value: 0.6 } } }
  }
  metrics { class_name: "CalibrationPlot" }
}
"""

PENGUIN_EVAL_CONFIG: dict[str, Any] = {
    "model_specs": [
        {"label_key": "species_xf", "preprocessing_function_names": ["transform_features"]}
    ],
    "slicing_specs": [{}, {"feature_keys": ["island"]}],
    "metrics_specs": [
        {
            "metrics": [
                {"class_name": "ExampleCount"},
                {
                    "class_name": "SparseCategoricalAccuracy",
                    "threshold": {
                        "value_threshold": {"lower_bound": {"value": 0.8}},
                        "change_threshold": {
                            "direction": "HIGHER_IS_BETTER",
                            "absolute": {"value": -0.05},
                        },
                    },
                },
                {"class_name": "MultiClassConfusionMatrixPlot"},
            ]
        }
    ],
}


def tfx_pipeline(
    name: str,
    home: str,
    data: str,
    module: str,
    eval_config: dict[str, Any] | str,
    *,
    materialize: bool,
    train_steps: int,
    runtime: str = "modern",
    trainer: dict[str, Any] | None = None,
    evaluator: dict[str, Any] | None = None,
) -> Pipeline:
    serving = os.path.join(serving_base(home), name)
    return Pipeline(
        name=name,
        runtime=runtime,
        run_params=(RunParam("materialize", "transform.materialize"),),
        steps=(
            Step("example_gen", "example_gen", {"input": data}),
            Step(
                "transform",
                "transform",
                {"module_file": module, "materialize": materialize},
                {"examples": "example_gen"},
            ),
            Step(
                "trainer",
                "trainer",
                {
                    "module_file": module,
                    "train_steps": train_steps,
                    "eval_steps": 10,
                    **(trainer or {}),
                },
                {"transform": "transform"},
            ),
            Step(
                "evaluator",
                "evaluator",
                {"eval_config": eval_config, "baseline_model_dir": serving, **(evaluator or {})},
                {"examples": "example_gen", "model": "trainer"},
            ),
            Step(
                "pusher",
                "pusher",
                {"serving_base": serving_base(home), "model_name": name},
                {"model": "trainer", "evaluation": "evaluator"},
            ),
        ),
    )


def taxi(home: str, data: str, **kw: Any) -> Pipeline:
    return tfx_pipeline(
        "tfx_taxi", home, data, TAXI_MODULE, TAXI_EVAL_CONFIG, train_steps=150, **kw
    )


def penguins(home: str, data: str, module: str, **kw: Any) -> Pipeline:
    return tfx_pipeline(
        "tfx_penguins", home, data, module, PENGUIN_EVAL_CONFIG, train_steps=300, **kw
    )


def build(home: str) -> Pipeline:
    which = os.environ.get("TFPIPE_TFX_PIPELINE", "penguins")
    data = os.environ["TFPIPE_TFX_DATA"]
    if which == "taxi":
        return taxi(home, data, materialize=True)
    return penguins(home, data, os.environ["TFPIPE_TFX_MODULE"], materialize=True)
