"""trainer.warm_start=served on tfpipe's own backends: the model starts from the served model's
weights when it was trained on the same transformed features, classes and layer shapes; else a
cold start whose reason is in the Model's manifest. Warm and cold runs are different artifacts."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import REPO, run_penguins, step

from tfpipe.components import get_spec
from tfpipe.components.artifacts import Model, open_artifact
from tfpipe.components.trainer.warm_start import NOTHING_SERVED, info_mismatch

USED = {"requested": "served", "used": True, "reason": ""}
MORE_OOV = os.path.join(REPO, "tests", "modules", "penguins_more_oov.py")


def trainer(record: dict) -> Model:
    return open_artifact(step(record, "trainer")["uri"], Model)


def warm_start(record: dict) -> dict:
    return trainer(record).summary["warm_start"]


def pushed_version(record: dict) -> int:
    pusher = step(record, "pusher")["summary"]
    assert pusher["pushed"], pusher
    return int(pusher["version"])


def served_now(home: str) -> int | None:
    from tfpipe import serving_base
    from tfpipe.components.artifacts import ServingDirectory

    return ServingDirectory(serving_base(home), "penguins").latest()


def line(record: dict) -> str:
    """The trainer's one line in the run listing."""
    return get_spec("trainer").describe(step(record, "trainer"))


def fingerprint(record: dict) -> str:
    return step(record, "trainer")["uri"].rstrip("/").rsplit("/", 1)[1]


# -- what the served model was trained on, compared (no TensorFlow) ----------------------------
SPECS = {
    "island_id": {"dtype": "int64", "kind": "categorical", "num_buckets": 4},
    "bill_length_mm_z": {"dtype": "float32", "kind": "numeric", "num_buckets": 0},
}
THIS = {
    "task": "classification",
    "label": "label",
    "classes": ["Adelie", "Gentoo", "Chinstrap"],
    "num_classes": 3,
    "transformed_features": SPECS,
}
SERVED = {**THIS, "features": sorted(SPECS)}


def test_what_the_served_model_was_trained_on_decides_a_warm_start():
    assert info_mismatch(SERVED, THIS) == ""
    wider = {**SPECS, "island_id": {**SPECS["island_id"], "num_buckets": 5}}
    reason = info_mismatch(SERVED, {**THIS, "transformed_features": wider})
    assert "transformed feature spec changed" in reason and "island_id" in reason
    assert "'num_buckets': 4" in reason and "'num_buckets': 5" in reason
    fewer = {"island_id": SPECS["island_id"]}
    reason = info_mismatch(SERVED, {**THIS, "transformed_features": fewer})
    assert reason == "the transformed features changed (no longer: ['bill_length_mm_z']; new: [])"
    reason = info_mismatch(SERVED, {**THIS, "classes": ["Adelie", "Chinstrap", "Gentoo"]})
    assert reason.startswith("the label vocabulary changed")
    assert "regression" in info_mismatch({**SERVED, "task": "regression"}, THIS)
    assert "run_fn" in info_mismatch({**SERVED, "contract": "run_fn"}, THIS)
    assert "no tfpipe model_info" in info_mismatch(None, THIS)
    # A vocabulary re-ordered or changed at the same size: its ids mean other values now.
    vocab = {"island": "a1", "species": "b2"}
    with_vocab = {**THIS, "vocabularies": vocab}
    assert info_mismatch({**SERVED, "vocabularies": vocab}, with_vocab) == ""
    reason = info_mismatch({**SERVED, "vocabularies": {**vocab, "island": "c3"}}, with_vocab)
    assert reason.startswith("the vocabularies ['island'] changed since the served model")
    assert info_mismatch(SERVED, with_vocab) == ""  # served before vocabularies were recorded
    # A model served before specs were recorded: compared by feature names.
    old = {k: v for k, v in SERVED.items() if k != "transformed_features"}
    assert info_mismatch(old, THIS) == ""
    assert "features changed" in info_mismatch({**old, "features": ["x"]}, THIS)


def test_served_model_dir_defaults_to_the_pipelines_pusher(tmp_path):
    from tfpipe.pipelines.registry import load_pipeline

    pipeline = load_pipeline("penguins", str(tmp_path)).with_overrides(
        {"trainer.warm_start": "served"}
    )
    params = pipeline.step_params(pipeline.step("trainer"))
    pusher = pipeline.step_params(pipeline.step("pusher"))
    assert params["served_model_dir"] == os.path.join(pusher["serving_base"], "penguins")
    validated = get_spec("trainer").validate_params(params, "trainer", "modern")
    assert validated.warm_start == "served"


# -- whole pipelines ------------------------------------------------------------------------------
@pytest.mark.slow
def test_keras_warm_start_starts_from_the_served_weights(tmp_path):
    home = str(tmp_path)
    first = run_penguins(home, {"trainer.train_steps": 300, "trainer.warm_start": "served"})
    assert first["status"] == "succeeded", first
    assert warm_start(first) == {
        "requested": "served",
        "version": None,
        "used": False,
        "reason": NOTHING_SERVED,
    }
    assert f"cold start ({NOTHING_SERVED})" in line(first)
    served = pushed_version(first)
    # What a later run compares with is recorded in the served model's info.
    assert trainer(first).info()["transformed_features"]["island_id"]["kind"] == "categorical"
    assert {"island", "sex", "species"} <= set(trainer(first).info()["vocabularies"])

    warm = run_penguins(home, {"trainer.train_steps": 100, "trainer.warm_start": "served"})
    assert warm["status"] == "succeeded", warm
    assert warm_start(warm) == {
        "requested": "served",
        "version": served,
        "used": True,
        "reason": "",
    }
    assert f"warm start from served version {served}" in line(warm)
    assert trainer(warm).info()["warm_start"]["used"] is True
    from tfpipe.components.trainer.report import training_curves

    def first_epoch_loss(record: dict) -> float:
        return training_curves(trainer(record))["loss"]["train"][0][1]

    # The first 100 steps of a warm run start where the served model's 300 ended.
    assert first_epoch_loss(warm) < first_epoch_loss(first) / 3, (
        first_epoch_loss(warm),
        first_epoch_loss(first),
    )
    cold = run_penguins(home, {"trainer.train_steps": 100})
    assert cold["status"] == "succeeded", cold
    assert step(cold, "trainer")["status"] == "executed"
    assert "warm_start" in trainer(cold).summary  # requested none: a plain cold start
    assert len({fingerprint(warm), fingerprint(cold)}) == 2
    assert first_epoch_loss(warm) < first_epoch_loss(cold) / 3

    # A transformed feature whose spec changed (one more island id): a cold start, said why.
    latest = served_now(home)
    changed = run_penguins(
        home,
        {
            "transform.module_file": MORE_OOV,
            "trainer.module_file": MORE_OOV,
            "trainer.train_steps": 100,
            "trainer.warm_start": "served",
        },
    )
    assert changed["status"] == "succeeded", changed
    decision = warm_start(changed)
    assert decision["used"] is False and decision["version"] == latest
    assert "transformed feature spec changed" in decision["reason"]
    assert "island_id" in decision["reason"] and "'num_buckets': 5" in decision["reason"]
    assert "cold start (the transformed feature spec changed" in line(changed)


@pytest.mark.slow
@pytest.mark.estimator
def test_estimator_warm_start_from_settings_initialises_from_the_served_checkpoint(tmp_path):
    import tensorflow as tf

    home = str(tmp_path)
    common = {
        "runtime": "estimator",
        "trainer.backend": "estimator",
        "trainer.estimator": "DNNClassifier",
        "trainer.hyperparameters": {"hidden_units": [16, 8], "learning_rate": 0.02},
        "trainer.train_steps": 200,
        "trainer.warm_start": "served",
    }
    first = run_penguins(home, common)
    assert first["status"] == "succeeded", first
    assert warm_start(first)["reason"] == NOTHING_SERVED
    served = pushed_version(first)
    warm = run_penguins(home, {**common, "trainer.train_steps": 100})
    assert warm["status"] == "succeeded", warm
    assert warm_start(warm) == {
        "requested": "served",
        "version": served,
        "used": True,
        "reason": "",
    }

    # Step 0 of the warm run holds the served model's weights, variable by variable.
    served_dir = step(first, "pusher")["summary"]["destination"]
    reader = tf.train.load_checkpoint(os.path.join(served_dir, "variables", "variables"))
    start = tf.train.load_checkpoint(os.path.join(trainer(warm).checkpoints_dir, "model.ckpt-0"))
    cold_start = tf.train.load_checkpoint(
        os.path.join(trainer(first).checkpoints_dir, "model.ckpt-0")
    )
    names = [n for n, _ in tf.train.list_variables(os.path.join(trainer(warm).checkpoints_dir))]
    weights = [n for n in names if n.startswith("dnn/") and "Adam" not in n]
    assert len(weights) == 6, names  # two hidden layers and the logits: kernels and biases
    for name in weights:
        np.testing.assert_array_equal(start.get_tensor(name), reader.get_tensor(name))
        assert not np.array_equal(cold_start.get_tensor(name), reader.get_tensor(name))

    # Wider hidden layers: the served variables do not fit, a cold start says which.
    latest = served_now(home)
    wider = run_penguins(
        home,
        {**common, "trainer.hyperparameters": {"hidden_units": [32, 8], "learning_rate": 0.02}},
    )
    assert wider["status"] == "succeeded", wider
    decision = warm_start(wider)
    assert decision["used"] is False and decision["version"] == latest
    assert "variable shapes differ" in decision["reason"]
    assert "dnn/hiddenlayer_0/kernel [16, 16] -> [16, 32]" in decision["reason"]
    assert len({fingerprint(first), fingerprint(warm), fingerprint(wider)}) == 3


# -- the Evaluator keeps the baseline's scores per eval shard -------------------------------------
def evaluation(record: dict) -> dict:
    from tfpipe.components.artifacts import ModelEvaluation

    return open_artifact(step(record, "evaluator")["uri"], ModelEvaluation).evaluation()


@pytest.mark.slow
def test_the_evaluator_scores_the_baseline_once_per_shard(tmp_path):
    import shutil

    from tfpipe.components.artifacts import Examples
    from tfpipe.components.core.tfrecord import read_records

    home = str(tmp_path)
    kept = os.path.join(home, "penguins", "artifacts", "evaluator.baseline")
    first = run_penguins(home, {"trainer.train_steps": 100})
    assert first["status"] == "succeeded", first
    served = pushed_version(first)
    shards = open_artifact(step(first, "example_gen")["uri"], Examples).split_files("eval")
    rows = sum(1 for shard in shards for _ in read_records(shard))
    # The blessed candidate's scores are kept: it may be (and was) served next.
    assert len(os.listdir(kept)) == len(shards)

    # The next run's baseline is that model: nothing of it is scored again. A candidate held
    # back (a bar it cannot pass), so the baseline stays the first model.
    held = {"trainer.train_steps": 200, "evaluator.thresholds": {"accuracy": {"lower": 0.9999}}}
    second = run_penguins(home, held)
    assert second["status"] == "succeeded", second
    summary = step(second, "evaluator")["summary"]
    assert summary["baseline_version"] == served
    assert (summary["baseline_rows_scored"], summary["baseline_rows_reused"]) == (0, rows)
    described = get_spec("evaluator").describe(step(second, "evaluator"))
    assert described.endswith(f"; baseline scores reused for {rows} rows")
    assert not step(second, "pusher")["summary"]["pushed"]
    assert len(os.listdir(kept)) == len(shards)  # a held-back candidate's are not kept
    # The same model on the same rows: its metrics as a baseline are its metrics as a candidate.
    assert evaluation(second)["baseline"]["overall"] == evaluation(first)["metrics"]

    # Without the kept scores (removed), the baseline is scored again: the same metrics.
    shutil.rmtree(kept)
    third = run_penguins(home, {**held, "evaluator.slice_by": ["island"]})
    assert third["status"] == "succeeded", third
    assert step(third, "evaluator")["status"] == "executed"
    summary = step(third, "evaluator")["summary"]
    assert (summary["baseline_rows_scored"], summary["baseline_rows_reused"]) == (rows, 0)
    for key in ("baseline", None):
        then = evaluation(second)[key]["overall"] if key else evaluation(second)["metrics"]
        now = evaluation(third)[key]["overall"] if key else evaluation(third)["metrics"]
        assert now == then
    assert evaluation(third)["slices"]["island"]  # the change this run was for

    # Another evaluation over the same shards against the same baseline: nothing re-scored.
    fourth = run_penguins(home, {**held, "evaluator.slice_by": ["sex"]})
    summary = step(fourth, "evaluator")["summary"]
    assert (summary["baseline_rows_scored"], summary["baseline_rows_reused"]) == (0, rows)
    assert evaluation(fourth)["baseline"]["overall"] == evaluation(third)["baseline"]["overall"]
    assert evaluation(fourth)["metrics"] == evaluation(third)["metrics"]


@pytest.mark.slow
@pytest.mark.estimator
def test_a_keras_model_converted_to_an_estimator_starts_from_the_served_weights(tmp_path):
    """backend=auto on a 2-worker cluster converts the Keras model (model_to_estimator): the
    served weights are loaded into the Keras model before it is converted."""
    import tensorflow as tf

    home = str(tmp_path)
    common = {
        "runtime": "estimator",
        "trainer.backend": "auto",
        "trainer.distribution": "multi_worker",
        "trainer.num_workers": 2,
        "trainer.train_steps": 100,
        "trainer.warm_start": "served",
    }
    first = run_penguins(home, common)
    assert first["status"] == "succeeded", first
    assert trainer(first).summary["converted"] is True
    served = pushed_version(first)
    warm = run_penguins(home, common)
    assert warm["status"] == "succeeded", warm
    assert warm_start(warm) == {**USED, "version": served}
    served_dir = step(first, "pusher")["summary"]["destination"]
    reader = tf.train.load_checkpoint(os.path.join(served_dir, "variables", "variables"))
    start = tf.train.load_checkpoint(os.path.join(trainer(warm).checkpoints_dir, "model.ckpt-0"))
    weights = [
        n
        for n, _ in tf.train.list_variables(os.path.join(served_dir, "variables", "variables"))
        if n.startswith("layer_with_weights-")
    ]
    assert len(weights) == 6, weights
    for name in weights:
        np.testing.assert_array_equal(start.get_tensor(name), reader.get_tensor(name))


def test_where_the_served_models_are_is_not_part_of_a_cold_trainers_identity(tmp_path):
    """served_model_dir is filled in from the pusher for every trainer; a cold one's fingerprint
    does not depend on it (a warm one's does, through the served version it reads)."""
    from tfpipe.components.core.execute import resolve

    def trainer_fingerprint(**params) -> str:
        return resolve(
            component="trainer",
            step="trainer",
            raw_params={
                "module_file": os.path.join(REPO, "pipelines", "penguins", "user_module.py"),
                **params,
            },
            input_uris={"transform": str(tmp_path / "t")},
            input_fingerprints={"transform": "f" * 20},
            runtime="modern",
            artifacts_root=str(tmp_path / "artifacts"),
        ).fingerprint

    here, there = (str(tmp_path / d / "penguins") for d in ("a", "b"))
    assert trainer_fingerprint(served_model_dir=here) == trainer_fingerprint(served_model_dir=there)
    assert trainer_fingerprint(served_model_dir=here) == trainer_fingerprint()
    warm = trainer_fingerprint(served_model_dir=here, warm_start="served")
    assert warm != trainer_fingerprint(served_model_dir=here)
