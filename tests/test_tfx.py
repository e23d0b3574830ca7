"""A TFX user moves in: TFX user modules (``preprocessing_fn`` + ``run_fn(fn_args)``, the
DataAccessor) and TFX's evaluation habits (TFMA's EvalConfig, the transformed label as
``label_key``, metric class names with value and change thresholds) run with only the ``tfx``
imports renamed ``tfpipe.tfx``; locally and on Airflow (``dag.test``), with materialized and
non-materialized Transform, on both runtimes."""

from __future__ import annotations

import json
import os
import re
import subprocess

import numpy as np
import pytest
from airflow_support import airflow, airflow_env, dag_test
from conftest import REPO, step

from tfpipe.components import get_spec
from tfpipe.components.artifacts import (
    Examples,
    Model,
    ModelEvaluation,
    ServingDirectory,
    open_artifact,
)
from tfpipe.components.core.errors import ParameterError
from tfpipe.components.core.execute import resolve
from tfpipe.pipelines.home import serving_base
from tfpipe.pipelines.local_runner import run_pipeline
from tfpipe.pipelines.penguins.pipeline import default_data

MODULES = os.path.join(REPO, "tests", "modules")
TFX_PENGUIN_MODULE = os.path.join(MODULES, "tfx_original", "penguin_module.py")
KERAS_MODULE = os.path.join(REPO, "pipelines", "penguins", "user_module.py")
ORCHESTRATOR_PYTHON = os.path.join(REPO, ".venvs", "orchestrator", "bin", "python")
MODERN_PYTHON = os.path.join(REPO, ".venvs", "modern", "bin", "python")
# TFX's FnArgs attributes (tfx/components/trainer/fn_args_utils.py, TFX 1.x).
TFX_FN_ARGS = [
    "working_dir",
    "train_files",
    "eval_files",
    "train_steps",
    "eval_steps",
    "schema_path",
    "schema_file",
    "transform_graph_path",
    "transform_output",
    "data_accessor",
    "serving_model_dir",
    "eval_model_dir",
    "model_run_dir",
    "base_model",
    "hyperparameters",
    "custom_config",
]
TFX_IMPORT = re.compile(r"^(\s*)(from|import)\s+tfx(?=[.\s])", re.M)


def rename_tfx_imports(source: str) -> str:
    """What a TFX user does to a module: each ``from tfx…`` / ``import tfx…`` line gets
    ``tfpipe.tfx`` for ``tfx``; nothing else changes."""
    return TFX_IMPORT.sub(r"\1\2 tfpipe.tfx", source)


def renamed_penguin_module(directory: str) -> str:
    path = os.path.join(directory, "penguin_module.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(rename_tfx_imports(open(TFX_PENGUIN_MODULE, encoding="utf-8").read()))
    return path


# -- the module paths -----------------------------------------------------------------------------
def test_tfx_module_paths_import_as_tfx_ones_do_without_tensorflow():
    code = (
        "import dataclasses, json, sys\n"
        "from tfpipe.tfx import v1 as tfx\n"
        "from tfpipe.tfx.components.trainer import fn_args_utils\n"
        "from tfpipe.tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs\n"
        "from tfpipe.tfx.components.tuner.component import TunerFnResult\n"
        "from tfpipe.tfx.v1.components import FnArgs as V1FnArgs\n"
        "import tfpipe.tfx.v1 as tfx_v1\n"
        "assert tfx.components.FnArgs is FnArgs is V1FnArgs is fn_args_utils.FnArgs\n"
        "assert tfx.components.DataAccessor is DataAccessor is tfx_v1.components.DataAccessor\n"
        "assert tfx.components.TunerFnResult is TunerFnResult\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'airflow')]\n"
        "print(json.dumps({'fn_args': [f.name for f in dataclasses.fields(FnArgs)],\n"
        "    'accessor': list(DataAccessor._fields), 'tuner': list(TunerFnResult._fields),\n"
        "    'defaults': FnArgs().train_files}))\n"
    )
    proc = subprocess.run(
        [ORCHESTRATOR_PYTHON, "-c", code],
        cwd="/",
        env={**os.environ, "PYTHONPATH": os.path.join(REPO, ".venvs", "src")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["fn_args"] == TFX_FN_ARGS
    assert found["accessor"] == [
        "tf_dataset_factory",
        "record_batch_factory",
        "data_view_decode_fn",
    ]
    assert found["tuner"] == ["tuner", "fit_kwargs"]
    assert found["defaults"] is None


def test_renaming_the_tfx_imports_changes_those_lines_and_nothing_else(tmp_path):
    original = open(TFX_PENGUIN_MODULE, encoding="utf-8").read().splitlines()
    renamed = open(renamed_penguin_module(str(tmp_path)), encoding="utf-8").read().splitlines()
    changed = [(a, b) for a, b in zip(original, renamed, strict=True) if a != b]
    imports = [line for line in original if re.match(r"(from|import) tfx[.\s]", line)]
    assert len(imports) >= 3 and [a for a, _ in changed] == imports
    assert all(b == a.replace(" tfx", " tfpipe.tfx", 1) for a, b in changed)
    assert any(line.startswith("from tfx_bsl") for line in renamed)  # tfx_bsl stays
    # The renamed module imports (and defines TFX's functions) in a training runtime.
    proc = subprocess.run(
        [
            MODERN_PYTHON,
            "-c",
            "import importlib.util, sys\n"
            "spec = importlib.util.spec_from_file_location('m', sys.argv[1])\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            "print(callable(m.run_fn), callable(m.preprocessing_fn))",
            str(tmp_path / "penguin_module.py"),
        ],
        env={**os.environ, "PYTHONPATH": os.path.join(REPO, ".venvs", "src")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-2:] == ["True", "True"]


def test_a_run_param_on_transform_materialize_takes_true_false_or_auto():
    """The trigger form's schema of a ``bool | "auto"`` parameter (it once took only "auto")."""
    import jsonschema
    from tfx_pipelines import penguins

    pipeline = penguins("/nowhere", "data.csv", "module.py", materialize=True)
    schema = pipeline.run_param_schema(pipeline.run_params[0])
    assert schema["enum"] == [True, False, "auto"]
    for value in (True, False, "auto"):
        jsonschema.validate(value, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("yes", schema)


# -- the trainer's contract, decided at planning ---------------------------------------------------
def trainer_step(tmp_path, **params):
    return resolve(
        component="trainer",
        step="trainer",
        raw_params=params,
        input_uris={"transform": str(tmp_path / "t")},
        input_fingerprints={"transform": "f" * 20},
        runtime="modern",
        artifacts_root=str(tmp_path / "artifacts"),
    )


def test_a_run_fn_module_is_planned_as_tfx_trains_it(tmp_path):
    module = os.path.join(MODULES, "tfx_taxi_module.py")
    # TFX's Trainer needs the module and step counts only: any train_steps, no label.
    planned = trainer_step(tmp_path, module_file=module, train_steps=150)
    assert planned.external.values["contract"] == "run_fn"
    with pytest.raises(ParameterError, match="multiple of steps_per_epoch"):
        trainer_step(tmp_path, module_file=KERAS_MODULE, train_steps=150)
    # tfpipe cannot place run_fn on a cluster: refused, saying why and what to do instead.
    with pytest.raises(ParameterError) as refused:
        trainer_step(tmp_path, module_file=module, distribution="multi_worker")
    message = str(refused.value)
    assert "run_fn" in message and "strategy scope inside run_fn" in message
    assert "build_keras_model" in message
    with pytest.raises(ParameterError, match=r"trainer\.backend=auto cannot apply"):
        trainer_step(tmp_path, module_file=module, backend="auto")
    # A warm start and a cold start are different artifacts once something is served, for a
    # run_fn module (fn_args.base_model) and for tfpipe's own contract (the served weights).
    served = ServingDirectory(str(tmp_path / "serving"), "m")
    cold = trainer_step(tmp_path, module_file=module)
    cold_keras = trainer_step(tmp_path, module_file=KERAS_MODULE)
    warm_nothing_served = trainer_step(
        tmp_path, module_file=module, warm_start="served", served_model_dir=served.model_dir
    )
    assert warm_nothing_served.external.values["base_model_version"] is None
    version = served.model_dir + "/7"
    os.makedirs(version)
    open(os.path.join(version, "saved_model.pb"), "wb").write(b"model")
    warm = trainer_step(
        tmp_path, module_file=module, warm_start="served", served_model_dir=served.model_dir
    )
    assert warm.external.values["base_model_version"] == 7
    assert len({cold.fingerprint, warm.fingerprint}) == 2
    warm_keras = trainer_step(
        tmp_path, module_file=KERAS_MODULE, warm_start="served", served_model_dir=served.model_dir
    )
    assert warm_keras.external.values == {"contract": "tfpipe", "base_model_version": 7}
    assert len({cold_keras.fingerprint, warm_keras.fingerprint}) == 2


# -- TFMA's EvalConfig ---------------------------------------------------------------------------
def evaluator_params(**raw):
    return get_spec("evaluator").validate_params(raw, "evaluator", "modern")


def test_an_eval_config_as_text_or_dict_sets_the_evaluator_parameters():
    from tfx_pipelines import PENGUIN_EVAL_CONFIG, TAXI_EVAL_CONFIG

    taxi = evaluator_params(eval_config=TAXI_EVAL_CONFIG)
    assert taxi.label == "tips_xf"
    assert taxi.signature_name == "serving_default"
    assert taxi.preprocessing_function_names == ["transform_features"]
    assert taxi.slice_by == ["payment_type"]
    assert {k: (b.lower, b.upper) for k, b in taxi.thresholds.items()} == {
        "accuracy": (0.6, None),
        "auc": (0.6, None),
    }
    assert {k: c.max_worsening for k, c in taxi.change_thresholds.items()} == {"accuracy": 0.05}
    # A validated copy (what a component process receives) validates to the same parameters.
    assert evaluator_params(**taxi.model_dump(mode="json")) == taxi
    penguins = evaluator_params(eval_config=PENGUIN_EVAL_CONFIG)
    assert (penguins.label, penguins.slice_by) == ("species_xf", ["island"])
    assert penguins.thresholds["accuracy"].lower == 0.8
    # TFX's taxi gate: not worse than the served model (absolute -1e-10, HIGHER_IS_BETTER).
    text = TAXI_EVAL_CONFIG.replace("value: -0.05", "value: -1e-10")
    assert evaluator_params(eval_config=text).change_thresholds["accuracy"].max_worsening == 1e-10
    as_dict = {
        "model_specs": [{"label_key": "tips_xf"}],
        "metrics_specs": [
            {
                "metrics": [{"class_name": "AUC", "config": '"curve": "PR"'}],
                "thresholds": {"binary_accuracy": {"value_threshold": {"lower_bound": 0.6}}},
            }
        ],
    }
    assert evaluator_params(eval_config=as_dict).thresholds["accuracy"].lower == 0.6
    # The same value set both ways is fine; a different one is refused, naming both.
    assert evaluator_params(eval_config=as_dict, label="tips_xf").label == "tips_xf"
    with pytest.raises(ParameterError, match=r"eval_config sets label='tips_xf'.*'tips'"):
        evaluator_params(eval_config=as_dict, label="tips")


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ('model_specs { example_weight_key: "w" }', "'example_weight_key' in ModelSpec \\(at 1:"),
        ('model_specs { lable_key: "x" }', "'lable_key' in ModelSpec .*not a field of TFMA"),
        ({"slicing_specs": [{"feature_values": {"a": "b"}}]}, "'feature_values' in SlicingSpec"),
        ("cross_slicing_specs {}", "'cross_slicing_specs' in EvalConfig .*TFMA field"),
        ("model_specs {} model_specs { is_baseline: true }", "is_baseline"),
        ("model_specs {} model_specs {}", "2 model_specs"),
        ('slicing_specs { feature_keys: ["a", "b"] }', "crosses \\['a', 'b'\\]"),
        ('metrics_specs { metrics { class_name: "MeanSquaredError" } }', "MeanSquaredError"),
        (
            'metrics_specs { metrics { class_name: "AUC" threshold { change_threshold '
            "{ direction: HIGHER_IS_BETTER relative { value: -0.1 } } } } }",
            "'relative' in GenericChangeThreshold",
        ),
        (
            'metrics_specs { metrics { class_name: "AUC" threshold { change_threshold '
            "{ direction: LOWER_IS_BETTER absolute { value: 0.1 } } } } }",
            "direction LOWER_IS_BETTER; auc is higher is better",
        ),
        (
            'metrics_specs { metrics { class_name: "AUC" threshold { change_threshold '
            "{ direction: HIGHER_IS_BETTER absolute { value: 0.01 } } } } }",
            "requires an improvement of 0.01",
        ),
        (
            'metrics_specs { metrics { class_name: "CalibrationPlot" threshold { '
            "value_threshold { lower_bound { value: 1 } } } } }",
            "a plot",
        ),
        ("model_specs {", "Expected"),
    ],
)
def test_an_eval_config_field_tfpipe_does_not_support_is_refused_by_name(config, named):
    with pytest.raises(ParameterError, match="eval_config") as refused:
        evaluator_params(eval_config=config)
    assert re.search(named, str(refused.value)), str(refused.value)


def test_a_label_that_is_no_column_and_no_transformed_feature_is_refused_naming_both():
    transform = {"raw_features": ["fare", "tips"], "transformed_features": ["fare_xf", "tips_xf"]}
    evaluator_params(label="tips_xf").check_ancestors({"transform": transform})
    evaluator_params(label="tips").check_ancestors({"transform": transform})
    with pytest.raises(ParameterError) as refused:
        evaluator_params(label="tip_xf").check_ancestors({"transform": transform})
    assert "['fare', 'tips']" in str(refused.value)
    assert "['fare_xf', 'tips_xf']" in str(refused.value)
    # A slice column is a raw column (checked for every component's column parameters).
    from tfpipe.pipelines.engine import missing_columns

    (problem,) = missing_columns("evaluator", evaluator_params(slice_by=["fare_xf"]), ["fare"])
    assert "evaluator.slice_by names 'fare_xf', which is not a column of the data" in problem


def test_serving_outputs_are_read_as_probabilities_and_logits_refused():
    import tensorflow as tf

    from tfpipe.components.core.errors import InputDataError
    from tfpipe.components.evaluator.signatures import probabilities

    sigmoid = probabilities(tf.constant([[0.2], [0.9]]), "outputs", "m")
    np.testing.assert_allclose(sigmoid.numpy(), [[0.8, 0.2], [0.1, 0.9]], rtol=1e-6)
    softmax = tf.constant([[0.1, 0.7, 0.2]])
    np.testing.assert_allclose(probabilities(softmax, "output_0", "m").numpy(), softmax.numpy())
    with pytest.raises(InputDataError, match=r"not probabilities.*sigmoid or softmax"):
        probabilities(tf.constant([[2.5, -1.0, 0.3]]), "output_0", "m")


# -- end to end ------------------------------------------------------------------------------------
def raw_examples_without(examples: Examples, drop: str, count: int = 16) -> list[bytes]:
    """Raw eval tf.Examples as a client sends them: the label column left out."""
    import tensorflow as tf

    out = []
    for record in tf.data.TFRecordDataset(examples.split_files("eval")).take(count):
        example = tf.train.Example.FromString(record.numpy())
        del example.features.feature[drop]
        out.append(example.SerializeToString())
    return out


def serve(version_dir: str, batch: list[bytes]) -> dict[str, np.ndarray]:
    import tensorflow as tf

    function = tf.saved_model.load(version_dir).signatures["serving_default"]
    return {k: v.numpy() for k, v in function(examples=tf.constant(batch)).items()}


def assert_tfx_run(record: dict, *, label: str, output: str, classes: int) -> dict:
    """Trained by run_fn, evaluated on the transformed label through its TFX signatures, blessed
    with every gate passed, pushed, and the pushed model serves raw tf.Examples."""
    assert record["status"] == "succeeded", record
    trainer = step(record, "trainer")
    assert trainer["summary"]["backend"] == "run_fn"
    assert trainer["summary"]["label"] == label  # the module's own label_key
    info = open_artifact(trainer["uri"], Model).info()
    assert info["contract"] == "run_fn" and info["prediction_key"] == output
    assert {"serving_default", "transform_features"} <= set(info["signatures"])
    evaluation = open_artifact(step(record, "evaluator")["uri"], ModelEvaluation).evaluation()
    assert evaluation["label"] == label and evaluation["blessed"]
    assert evaluation["thresholds"] and all(c["passed"] for c in evaluation["thresholds"])
    assert evaluation["metrics"]["example_count"] > 0
    assert len(evaluation["details"]["confusion_matrix"]["labels"]) == classes
    pushed = step(record, "pusher")["summary"]
    assert pushed["pushed"], pushed
    examples = open_artifact(step(record, "example_gen")["uri"], Examples)
    batch = raw_examples_without(examples, "tips" if "tips" in label else "species")
    served = serve(pushed["destination"], batch)
    scores = served[output]
    assert scores.shape == (len(batch), 1 if classes == 2 else classes)
    assert ((scores >= 0) & (scores <= 1)).all()
    if classes > 2:
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)
    return evaluation


@pytest.mark.slow
def test_tfx_taxi_module_locally_materialized_then_not_warm_started(tmp_path):
    """TFX's taxi module and Evaluator config (TFMA text format): a mistyped label_key stops the
    run as soon as Transform shows it cannot work (before training), and at planning once that
    is known; then materialized, then not (the DataAccessor transforms raw examples), warm-started
    from the served model and gated against it."""
    from tfx_pipelines import TAXI_EVAL_CONFIG, taxi

    from benchmarks.taxi_data import generate

    home = str(tmp_path / "home")
    data = str(tmp_path / "taxi.csv")
    generate(2000, data)
    typo = {"eval_config": TAXI_EVAL_CONFIG.replace('"tips_xf"', '"tip_xf"')}
    stopped = run_pipeline(taxi(home, data, materialize=True, evaluator=typo), home)
    assert stopped["status"] == "failed"
    ran = [s["step"] for s in stopped["steps"] if s["status"] != "not run"]
    assert ran == ["example_gen", "transform"]  # not the trainer
    assert "step 'evaluator' cannot work" in stopped["error"]
    assert "'tip_xf' is neither a raw column" in stopped["error"]
    assert "'tips'" in stopped["error"] and "'tips_xf'" in stopped["error"]
    refused = run_pipeline(taxi(home, data, materialize=True, evaluator=typo), home)
    assert refused["status"] == "failed"  # at planning: nothing ran
    assert {s["status"] for s in refused["steps"]} == {"not run"}
    assert "'tip_xf' is neither a raw column" in refused["error"]

    first = run_pipeline(taxi(home, data, materialize=True), home)
    assert step(first, "transform")["status"] == "cached"
    assert step(first, "transform")["summary"]["materialized"] is True
    assert_tfx_run(first, label="tips_xf", output="outputs", classes=2)
    # The module logged to fn_args.model_run_dir: the curves are in the model artifact.
    assert os.listdir(open_artifact(step(first, "trainer")["uri"], Model).logs_dir)
    v1 = step(first, "pusher")["summary"]["version"]

    warm = {
        "warm_start": "served",
        "served_model_dir": os.path.join(serving_base(home), "tfx_taxi"),
    }
    second = run_pipeline(taxi(home, data, materialize=False, trainer=warm), home)
    assert step(second, "transform")["summary"]["materialized"] is False
    assert step(second, "trainer")["summary"]["base_model"].endswith(f"/{v1}")
    evaluation = assert_tfx_run(second, label="tips_xf", output="outputs", classes=2)
    assert evaluation["baseline"]["version"] == v1
    assert [c["metric"] for c in evaluation["baseline_checks"]] == ["accuracy"]
    assert set(evaluation["slices"]) == {"payment_type"}
    served = ServingDirectory(serving_base(home), "tfx_taxi").versions()
    assert served == [v1, step(second, "pusher")["summary"]["version"]]
    same_data_either_way(step(first, "transform")["uri"], step(second, "transform")["uri"])


def same_data_either_way(materialized_uri: str, streamed_uri: str) -> None:
    """The DataAccessor gives a run_fn the same batched transformed features and label whether
    Transform materialized the split (TFXIO over the copies) or not (TFXIO over the raw examples,
    the transform graph applied in the dataset); record batches are the files as on disk."""
    from tfx_bsl.public import tfxio

    from tfpipe.components.artifacts import TransformGraph
    from tfpipe.components.core.errors import UserCodeError
    from tfpipe.components.trainer.tfx_data import TransformedData

    materialized = TransformedData(open_artifact(materialized_uri, TransformGraph))
    streamed = TransformedData(open_artifact(streamed_uri, TransformGraph))
    assert materialized.transform.materialized and not streamed.transform.materialized
    options = tfxio.TensorFlowDatasetOptions(
        batch_size=100, shuffle=False, num_epochs=1, label_key="tips_xf"
    )
    schema = materialized.output.transformed_metadata.schema

    def rows(data: TransformedData) -> np.ndarray:
        batches = list(data.tf_dataset_factory(data.files("eval"), options, schema))
        names = sorted(batches[0][0])
        assert "tips_xf" not in names and len(names) == 8
        table = np.concatenate(
            [
                np.stack([f[n].numpy().astype(float) for n in names] + [y.numpy()], axis=1)
                for f, y in batches
            ]
        )
        return table[np.lexsort(np.round(table, 4).T[::-1])]  # row order differs on disk

    np.testing.assert_allclose(rows(materialized), rows(streamed), rtol=1e-5, atol=1e-6)
    raw_schema = streamed.output.raw_metadata.schema
    batches = streamed.record_batch_factory(
        streamed.raw_files("eval"),
        tfxio.RecordBatchesOptions(batch_size=100, shuffle=False, num_epochs=1),
        raw_schema,
    )
    assert sum(b.num_rows for b in batches) == streamed.transform.summary["rows"]["eval"]
    with pytest.raises(UserCodeError, match=r"set transform\.materialize=true"):
        streamed.record_batch_factory(streamed.files("eval"), options, schema)


@pytest.mark.slow
@pytest.mark.estimator
def test_tfx_penguin_module_with_renamed_imports_on_the_estimator_runtime(tmp_path):
    """A multi-class module written for TFX, imports renamed, on TF 2.15: not materialized, its
    softmax served as TFX's penguin module serves it (a bare tensor, output_0)."""
    from tfx_pipelines import penguins

    home = str(tmp_path / "home")
    module = renamed_penguin_module(str(tmp_path))
    pipeline = penguins(home, default_data(), module, materialize=False, runtime="estimator")
    record = run_pipeline(pipeline, home)
    evaluation = assert_tfx_run(record, label="species_xf", output="output_0", classes=3)
    assert (
        open_artifact(step(record, "trainer")["uri"]).manifest["runtime"].startswith("estimator@")
    )
    assert set(evaluation["slices"]) == {"island"}
    assert evaluation["metrics"]["accuracy"] >= 0.8


@pytest.mark.slow
def test_tfx_penguin_module_on_airflow_materialized(tmp_path):
    """The same renamed module as an Airflow 3 DAG (``dag.test``), Transform materialized by the
    trigger's conf."""
    dags = tmp_path / "dags"
    dags.mkdir()
    pipeline_file = os.path.join(REPO, "tests", "tfx_pipelines.py")
    (dags / "tfx_penguins.py").write_text(
        "from tfpipe.airflow import build_dag\n\n"
        f"dag = build_dag({pipeline_file!r}, dag_id='tfx_penguins', schedule=None)\n"
    )
    env = airflow_env(
        str(tmp_path),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        TFPIPE_TFX_PIPELINE="penguins",
        TFPIPE_TFX_DATA=default_data(),
        TFPIPE_TFX_MODULE=renamed_penguin_module(str(tmp_path)),
    )
    airflow(env, "db", "migrate")
    result = dag_test(env, "tfx_penguins", {"materialize": True})
    assert result.get("state") == "success", result
    xcom = result["xcom"]
    assert xcom["transform"]["summary"]["materialized"] is True
    assert xcom["trainer"]["summary"]["backend"] == "run_fn"
    assert xcom["evaluator"]["summary"]["blessed"]
    assert xcom["pusher"]["summary"]["pushed"]
    record = {"status": "succeeded", "steps": []}
    for name in ("example_gen", "transform", "trainer", "evaluator", "pusher"):
        record["steps"].append({"step": name, **xcom[name]})
    assert_tfx_run(record, label="species_xf", output="output_0", classes=3)
