"""Real datasets beside penguins, shipped offline by registry packages, as test pipelines:
binary with a derived label (statsmodels ``fair``), regression (statsmodels ``randhie``) and
multi-class with integer labels (scikit-learn ``load_digits``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from conftest import REPO

from tfpipe.pipelines.definition import Pipeline, Step
from tfpipe.pipelines.home import serving_base

MODULES = os.path.join(REPO, "tests", "modules")


@dataclass(frozen=True)
class Dataset:
    name: str
    module: str
    raw_label: str | None  # the raw column the evaluator reads (None: the model's own label)
    trainer: dict[str, Any]
    evaluator: dict[str, Any]

    def write_csv(self, path: str) -> str:
        frame = load_frame(self.name)
        frame.to_csv(path, index=False)
        return path

    def pipeline(self, home: str, data: str, runtime: str = "modern") -> Pipeline:
        module = os.path.join(MODULES, self.module)
        return Pipeline(
            name=self.name,
            runtime=runtime,
            steps=(
                Step("example_gen", "example_gen", {"input": data}),
                Step(
                    "transform", "transform", {"module_file": module}, {"examples": "example_gen"}
                ),
                Step(
                    "trainer",
                    "trainer",
                    {
                        "module_file": module,
                        "train_steps": 600,
                        "steps_per_epoch": 200,
                        "batch_size": 64,
                        **self.trainer,
                    },
                    {"transform": "transform"},
                ),
                Step(
                    "evaluator",
                    "evaluator",
                    {
                        "label": self.raw_label,
                        "baseline_model_dir": os.path.join(serving_base(home), self.name),
                        **self.evaluator,
                    },
                    {"examples": "example_gen", "model": "trainer"},
                ),
                Step(
                    "pusher",
                    "pusher",
                    {"serving_base": serving_base(home), "model_name": self.name},
                    {"model": "trainer", "evaluation": "evaluator"},
                ),
            ),
        )


def load_frame(name: str) -> Any:
    if name == "fair":
        import statsmodels.api as sm

        return sm.datasets.fair.load_pandas().data
    if name == "randhie":
        import statsmodels.api as sm

        return sm.datasets.randhie.load_pandas().data
    if name == "digits":
        import pandas as pd
        from sklearn.datasets import load_digits

        digits = load_digits()
        frame = pd.DataFrame(digits.data.astype(int), columns=[f"pixel_{i}" for i in range(64)])
        frame["digit"] = digits.target
        return frame
    raise KeyError(name)


DATASETS = {
    # Binary, label derived in preprocessing_fn (affairs > 0), one sigmoid output, gated on AUC.
    "fair": Dataset(
        "fair",
        "fair_module.py",
        raw_label=None,
        trainer={"label": "had_affair", "raw_label": "affairs"},
        evaluator={
            "thresholds": {"auc": {"lower": 0.65}},
            "change_thresholds": {"auc": {"max_worsening": 0.01}},
            "slice_by": ["religious"],
        },
    ),
    # Regression on a raw label column.
    "randhie": Dataset(
        "randhie",
        "randhie_module.py",
        raw_label="mdvis",
        trainer={"label": "visits", "raw_label": "mdvis", "task": "regression"},
        evaluator={
            "thresholds": {"r2": {"lower": 0.03}},
            "change_thresholds": {"rmse": {"max_worsening": 0.05}},
        },
    ),
    # Multi-class, integer labels with no vocabulary.
    "digits": Dataset(
        "digits",
        "digits_module.py",
        raw_label="digit",
        trainer={"label": "digit_id", "raw_label": "digit", "num_classes": 10},
        evaluator={
            "thresholds": {"accuracy": {"lower": 0.85}},
            "change_thresholds": {"accuracy": {"max_worsening": 0.02}},
        },
    ),
}
