"""Pipeline definitions: overrides, validation and the no-TensorFlow rule."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

from tfpipe.components.core.errors import ParameterError
from tfpipe.pipelines.definition import Pipeline, Step, parse_assignment
from tfpipe.pipelines.registry import load_pipeline


def test_overrides_reach_nested_step_parameters(tmp_path):
    p = load_pipeline("penguins", str(tmp_path)).with_overrides(
        {"trainer.hyperparameters.learning_rate": 0.1, "runtime": "estimator"}
    )
    assert p.runtime == "estimator"
    assert p.step("trainer").params["hyperparameters"] == {
        "hidden_units": [16, 8],
        "learning_rate": 0.1,
    }


def test_override_of_unknown_step_names_the_steps(tmp_path):
    with pytest.raises(ParameterError, match=r"no step 'trainr'.*'trainer'"):
        load_pipeline("penguins", str(tmp_path)).with_overrides({"trainr.train_steps": 1})


def test_parse_assignment_reads_json_values():
    assert parse_assignment("trainer.train_steps=200") == ("trainer.train_steps", 200)
    assert parse_assignment("example_gen.input=/data/*.csv") == ("example_gen.input", "/data/*.csv")
    assert parse_assignment('x.y={"a": [1]}') == ("x.y", {"a": [1]})
    with pytest.raises(ParameterError, match="KEY=VALUE"):
        parse_assignment("no-equals-sign")


def test_wiring_errors_name_expected_and_got():
    with pytest.raises(ParameterError, match=r"expects inputs \['examples', 'model'\], but got"):
        Pipeline(
            "p",
            (
                Step("e", "example_gen", {"input": "x"}),
                Step("ev", "evaluator", {"label": "y"}, {"examples": "e"}),
            ),
        )
    with pytest.raises(ParameterError, match="reads from 'ghost'"):
        Pipeline("p", (Step("t", "transform", {"module_file": "m"}, {"examples": "ghost"}),))
    with pytest.raises(ParameterError, match="unknown runtime 'legacy'"):
        Pipeline("p", (), runtime="legacy")


def test_defining_and_planning_a_pipeline_imports_no_tensorflow(tmp_path):
    code = (
        "import sys; from tfpipe.pipelines.registry import load_pipeline; "
        "from tfpipe.pipelines.local_runner import plan; "
        "p = load_pipeline('penguins', sys.argv[1]); plan(p, sys.argv[1]); "
        "heavy = [m for m in ('tensorflow', 'apache_beam', 'tensorflow_transform') "
        "if m in sys.modules]; assert not heavy, heavy"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
