"""Fault table, row 5: bad parameters and user code. Wrong types and unknown keys are refused
before anything runs, naming the parameter; a ``preprocessing_fn`` or model builder that raises,
or a model whose inputs or output do not fit the data, fails naming the function and its module
before a training step runs, and what was committed before is reused once it is fixed."""

from __future__ import annotations

import os
import shutil

import pytest
from conftest import REPO, run_penguins, step

pytestmark = pytest.mark.slow

USER_MODULE = os.path.join(REPO, "pipelines", "penguins", "user_module.py")


def committed_steps(home: str) -> list[str]:
    """The steps with an artifact (not the caches beside them: ``<step>.drop``, ``.analysis``)."""
    root = os.path.join(home, "penguins", "artifacts")
    if not os.path.isdir(root):
        return []
    return sorted(
        name
        for name in os.listdir(root)
        if "." not in name
        and any(not e.startswith(".") for e in os.listdir(os.path.join(root, name)))
    )


def broken_module(tmp_path, old: str, new: str) -> str:
    source = open(USER_MODULE).read()
    assert old in source
    module = tmp_path / "broken_module.py"
    module.write_text(source.replace(old, new))
    return str(module)


def test_preprocessing_fn_that_raises_names_the_function_and_module(tmp_path):
    module = tmp_path / "broken_module.py"
    source = (
        open(USER_MODULE)
        .read()
        .replace(
            "def preprocessing_fn(inputs):\n",
            "def preprocessing_fn(inputs):\n    raise ValueError('no such column: beak_colour')\n",
        )
    )
    module.write_text(source)
    home = str(tmp_path / "home")
    record = run_penguins(home, {"transform.module_file": str(module)})
    failed = step(record, "transform")
    assert failed["status"] == "failed"
    assert "preprocessing_fn" in failed["error"] and str(module) in failed["error"]
    assert "beak_colour" in failed["error"]
    assert committed_steps(home) == ["example_gen", "example_validator"]
    # The committed ExampleGen artifact is reused once the module is fixed.
    shutil.copy(USER_MODULE, module)
    fixed = run_penguins(
        home,
        {
            "transform.module_file": str(module),
            "trainer.train_steps": 100,
            "evaluator.thresholds": {},
        },
    )
    assert fixed["status"] == "succeeded"
    assert step(fixed, "example_gen")["status"] == "cached"


def test_a_typo_in_preprocessing_fn_names_the_line_the_columns_and_the_nearest(tmp_path):
    module = broken_module(
        tmp_path, '"bill_length_mm", "bill_depth_mm"', '"bill_lenght_mm", "bill_depth_mm"'
    )
    record = run_penguins(str(tmp_path / "home"), {"transform.module_file": module})
    error = step(record, "transform")["error"]
    assert "asks for 'bill_lenght_mm', which is not one of its inputs" in error, error
    assert "did you mean 'bill_length_mm'?" in error
    assert "Available: bill_depth_mm, bill_length_mm, body_mass_g, flipper_length_mm" in error
    assert f"in {module}, line " in error and "inputs[name]" in error


def test_invalid_parameter_is_refused_before_anything_runs(tmp_path):
    record = run_penguins(str(tmp_path), {"trainer.train_steps": -5, "trainer.epochz": 3})
    assert record["status"] == "failed"
    assert "train_steps" in record["error"] and "'epochz' is not a parameter" in record["error"]
    assert committed_steps(str(tmp_path)) == []


def test_estimator_backend_is_refused_on_the_modern_runtime(tmp_path):
    record = run_penguins(
        str(tmp_path), {"trainer.backend": "estimator", "trainer.estimator": "DNNClassifier"}
    )
    assert record["status"] == "failed"
    assert "estimator' runtime" in record["error"] and "runtime=estimator" in record["error"]


@pytest.fixture(scope="module")
def transformed_home(tmp_path_factory) -> str:
    """A home where ExampleGen and Transform are committed: each case below pays only for the
    trainer's failure."""
    home = str(tmp_path_factory.mktemp("user_code"))
    assert (
        run_penguins(home, {"trainer.train_steps": 1, "evaluator.thresholds": {}})["status"]
        == "succeeded"
    )
    return home


@pytest.mark.parametrize(
    "old,new,expected",
    [
        (
            "    keras = tf.keras\n",
            "    raise RuntimeError('hidden_units must be a list')\n",
            "hidden_units must be a list",
        ),
        (
            'hparams["num_classes"], activation="softmax"',
            '2, activation="softmax"',
            "output has shape [None, 2]; a classification model here needs [N, 3]",
        ),
        (
            "inputs[f.name] = keras.Input(shape=(), name=f.name, dtype=f.dtype)",
            "inputs[f.name] = keras.Input(shape=(), name=f.name + '_raw', dtype=f.dtype)",
            "that are not transformed features",
        ),
        (
            "    keras = tf.keras\n",
            "    keras = tf.keras\n    island = {f.name: f for f in features}['island_idx']\n",
            "asks for 'island_idx', which is not one of its inputs; did you mean 'island_id'?",
        ),
    ],
    ids=["raises", "wrong-output-shape", "unknown-input", "missing-feature"],
)
def test_a_model_builder_that_raises_or_does_not_fit_is_named_before_training(
    transformed_home, tmp_path, old, new, expected
):
    module = broken_module(tmp_path, old, new)
    record = run_penguins(
        transformed_home,
        {"trainer.module_file": module, "trainer.train_steps": 50, "evaluator.thresholds": {}},
    )
    failed = step(record, "trainer")
    assert failed["status"] == "failed", record
    assert "build_keras_model" in failed["error"] and module in failed["error"], failed["error"]
    assert expected in failed["error"], failed["error"]
    assert step(record, "transform")["status"] == "cached"
    assert "resumed_from_step" not in str(failed)  # no training step ran
