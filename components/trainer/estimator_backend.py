"""Estimator training (estimator runtime only): pre-made Estimators from hyperparameters alone,
custom ``model_fn``s, and Keras models converted with ``model_to_estimator``; all trained with
``train_and_evaluate`` and RunConfig from TF_CONFIG."""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from tfpipe.components.core.errors import ParameterError
from tfpipe.components.core.user_code import guarded, load_function
from tfpipe.components.trainer.data import (
    FeatureInfo,
    input_throughput,
    make_dataset,
)
from tfpipe.components.trainer.decision import Decision
from tfpipe.components.trainer.estimator_export import name_raw_signature, serving_receiver
from tfpipe.components.trainer.export import SIGNATURE, TRANSFORM_SIGNATURE, classifier_outputs
from tfpipe.components.trainer.job import TrainingJob
from tfpipe.components.trainer.keras_backend import (
    build_model,
    restore_served_weights,
    weights_mismatch,
)
from tfpipe.components.trainer.params import TrainerParams

CLASSIFIERS = (
    "LinearClassifier",
    "DNNClassifier",
    "DNNLinearCombinedClassifier",
    "BoostedTreesClassifier",
)
REGRESSORS = (
    "LinearRegressor",
    "DNNRegressor",
    "DNNLinearCombinedRegressor",
    "BoostedTreesRegressor",
)
# z-scored numerics: bucket boundaries in standard deviations, for BoostedTrees.
Z_BOUNDARIES = [-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0]


def feature_columns(features: list[FeatureInfo]) -> dict[str, list[Any]]:
    """Columns derived from the transformed schema: numeric, and identity-categorical with its
    vocabulary size, in the forms each Estimator family wants."""
    fc = tf.feature_column
    numeric = [fc.numeric_column(f.name) for f in features if f.kind == "numeric"]
    categorical = [
        fc.categorical_column_with_identity(f.name, num_buckets=f.num_buckets)
        for f in features
        if f.kind == "categorical"
    ]
    return {
        "linear": numeric + categorical,
        "dnn": numeric + [fc.indicator_column(c) for c in categorical],
        "trees": [fc.bucketized_column(c, Z_BOUNDARIES) for c in numeric]
        + [fc.indicator_column(c) for c in categorical],
    }


def _optimizer(name: str | None, learning_rate: float | None) -> Any:
    """Canned Estimators need legacy Keras optimizers (or optimizer names)."""
    if name is None and learning_rate is None:
        return None
    cls = getattr(tf.keras.optimizers.legacy, name or "Adam", None)
    if cls is None:
        raise ParameterError(f"trainer.hyperparameters.optimizer '{name}' is not a Keras optimizer")
    return cls(learning_rate=learning_rate or 0.001)


def premade(
    p: TrainerParams, features: list[FeatureInfo], num_classes: int, config: Any
) -> tf.estimator.Estimator:
    name = p.estimator or ""
    known = CLASSIFIERS + REGRESSORS
    if name not in known:
        raise ParameterError(f"trainer.estimator '{name}' is not one of {list(known)} or 'custom'")
    if (name in CLASSIFIERS) != (p.task == "classification"):
        raise ParameterError(f"trainer.estimator {name} does not fit task={p.task}")
    cls = getattr(tf.estimator, name)
    columns = feature_columns(features)
    hp = dict(p.hyperparameters)
    optimizer = _optimizer(hp.pop("optimizer", None), hp.pop("learning_rate", None))
    kwargs: dict[str, Any] = {"config": config}
    if name.startswith("DNNLinearCombined"):
        kwargs.update(linear_feature_columns=columns["linear"], dnn_feature_columns=columns["dnn"])
        if optimizer is not None:
            kwargs["dnn_optimizer"] = optimizer
    elif name.startswith("BoostedTrees"):
        kwargs.update(feature_columns=columns["trees"])
        hp.setdefault("n_batches_per_layer", 1)
    else:
        kwargs["feature_columns"] = columns["dnn" if name.startswith("DNN") else "linear"]
        if optimizer is not None:
            kwargs["optimizer"] = optimizer
    if name in CLASSIFIERS:
        kwargs["n_classes"] = num_classes
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(hp) - accepted)
    if unknown:
        raise ParameterError(
            f"trainer.hyperparameters {unknown} are not arguments of {name}; it accepts "
            f"{sorted(accepted - set(kwargs))}"
        )
    return cls(**kwargs, **hp)


def base_estimator(job: TrainingJob, decision: Decision, config: Any) -> tf.estimator.Estimator:
    p = job.p
    if decision.converted:
        # model_to_estimator starts from the Keras model's weights (its own warm start): a warm
        # start loads the served weights into the Keras model first. (Its checkpoints are
        # object-based, so name-based WarmStartSettings would find none of its variables.)
        keras_model = build_model(job)
        if job.warm_start_from:
            restore_served_weights(keras_model, job.warm_start_from)
        return tf.keras.estimator.model_to_estimator(keras_model=keras_model, config=config)
    if p.estimator == "custom":
        user_fn = load_function(p.module_file, p.estimator_model_fn)
        accepted = set(inspect.signature(user_fn).parameters)
        call = guarded(user_fn, p.module_file, "model_fn")

        # Estimator reads the model_fn's argument names, so the guard keeps an explicit signature.
        def model_fn(features, labels, mode, params, config):
            given = {"labels": labels, "mode": mode, "params": params, "config": config}
            return call(features, **{k: v for k, v in given.items() if k in accepted})

        return tf.estimator.Estimator(
            model_fn=model_fn, config=config, params={**job.hparams, "features": job.features}
        )
    # A label computed in preprocessing_fn with no vocabulary (e.g. a 0/1 flag) says nothing
    # of its classes: two, as for Keras (``trainer.num_classes`` for more).
    return premade(p, job.features, job.num_classes or 2, config)


def served_variables(saved_model_dir: str) -> str:
    """The checkpoint inside a SavedModel: what ``WarmStartSettings`` initialises from."""
    return os.path.join(saved_model_dir, "variables", "variables")


def uniform_estimator(
    base: tf.estimator.Estimator,
    task: str,
    classes: list[str],
    config: Any,
    model_features: list[str] | None = None,
    warm_start_from: str | None = None,
) -> tf.estimator.Estimator:
    """Wrap any Estimator so its predictions match the serving contract of every backend.

    ``model_features``: when exporting, the receiver hands over every transformed feature; the
    model gets these, and ``transform_features`` (all of them, the label included) becomes a
    second export output (see ``estimator_export``). ``warm_start_from``: a served SavedModel
    whose trainable variables initialise the model (``tf.estimator.WarmStartSettings``, applied
    only while the model directory has no checkpoint: a resumed run keeps its own); it replaces
    the initial-weights checkpoint ``model_to_estimator`` points a converted Keras model at."""
    warm = base._warm_start_settings
    if warm_start_from:
        warm = tf.estimator.WarmStartSettings(
            ckpt_to_initialize_from=served_variables(warm_start_from)
        )

    def model_fn(features, labels, mode, config):
        exporting = mode == tf.estimator.ModeKeys.PREDICT and model_features is not None
        given = {n: features[n] for n in model_features} if exporting else features
        spec = base.model_fn(given, labels, mode, config)
        if mode != tf.estimator.ModeKeys.PREDICT:
            return spec
        preds = spec.predictions
        if not isinstance(preds, dict):
            preds = {"output": preds}
        if task == "regression":
            value = preds.get("predictions", next(iter(preds.values())))
            outputs = {"predictions": tf.reshape(value, [-1])}
        else:
            probabilities = preds.get("probabilities", next(iter(preds.values())))
            outputs = classifier_outputs(probabilities, classes)
        export_outputs = {SIGNATURE: tf.estimator.export.PredictOutput(outputs)}
        if exporting:
            export_outputs[TRANSFORM_SIGNATURE] = tf.estimator.export.PredictOutput(
                {
                    k: tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v
                    for k, v in features.items()
                }
            )
        return spec._replace(predictions=outputs, export_outputs=export_outputs)

    return tf.estimator.Estimator(model_fn=model_fn, config=config, warm_start_from=warm)


class ProgressHook(tf.estimator.SessionRunHook):
    def __init__(self, progress: Callable[[str], None], every: int) -> None:
        self.progress, self.every = progress, every
        self.first_step: int | None = None
        self.last_step = 0
        self.last_reported = -1

    def begin(self) -> None:
        self.global_step = tf.compat.v1.train.get_global_step()

    def before_run(self, run_context: Any) -> Any:
        return tf.estimator.SessionRunArgs(self.global_step)

    def end(self, session: Any) -> None:
        self.last_step = int(session.run(self.global_step))

    def after_run(self, run_context: Any, run_values: Any) -> None:
        step = int(run_values.results)
        self.last_step = step
        if self.first_step is None:
            self.first_step = step
            self.progress(f"{'resuming from' if step else 'starting at'} step {step}")
        if step // self.every > self.last_reported // self.every:
            self.last_reported = step
            self.progress(f"step {step}")


class AfterSave(tf.estimator.CheckpointSaverListener):
    """Calls ``checkpointed`` once each checkpoint is saved (mirrors a remote store's scratch)."""

    def __init__(self, checkpointed: Callable[[], None]) -> None:
        self.checkpointed = checkpointed

    def after_save(self, session: Any, global_step_value: int) -> None:
        self.checkpointed()


def run_config(p: TrainerParams, decision: Decision, work_dir: str, cluster_task: bool) -> Any:
    strategy = None
    if decision.distribution == "multi_worker" and cluster_task:
        strategy = tf.distribute.experimental.MultiWorkerMirroredStrategy()
    elif decision.distribution == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
    # parameter_server: between-graph replication from TF_CONFIG (train_distribute=None); the
    # TF2 ParameterServerStrategy is rejected by Estimators.
    return tf.estimator.RunConfig(
        model_dir=os.path.join(work_dir, "estimator"),
        tf_random_seed=p.seed,
        save_checkpoints_steps=p.checkpoint_every,
        save_summary_steps=max(1, p.checkpoint_every // 4),
        log_step_count_steps=p.checkpoint_every,
        train_distribute=strategy,
    )


class EstimatorBackend:
    """Pre-made, custom or converted Estimators, trained with ``train_and_evaluate``."""

    def __init__(self, job: TrainingJob) -> None:
        self.job = job

    def build(self, local: bool, exporting: bool = False) -> tf.estimator.Estimator:
        """The job's Estimator, wrapped to the serving contract. ``local``: no training strategy
        (export, and the evaluator task, which must not get one)."""
        job = self.job
        decision = job.decision.undistributed() if local else job.decision
        cluster_task = not local and job.cluster.is_cluster
        config = run_config(job.p, decision, job.work_dir, cluster_task)
        base = base_estimator(job, decision, config)
        names = job.feature_names if exporting else None
        # A converted Keras model gets the served weights before conversion (base_estimator).
        warm = None if exporting or decision.converted else job.warm_start_from
        return uniform_estimator(base, job.p.task, self.classes, config, names, warm)

    @property
    def classes(self) -> list[str]:
        """Canned classifiers have ``n_classes`` outputs; a converted one-unit Keras model, 2."""
        return self.job.class_names(self.job.num_classes or None) or ["0", "1"]

    def prepare_cluster(self) -> None:
        """model_to_estimator writes the Keras warm-start checkpoint in every task that thinks it
        is the chief (all of them under MultiWorkerMirroredStrategy): they race on one file.
        Writing it once, before the tasks start, makes them all find it and skip the save."""
        if self.job.decision.converted:
            self.build(local=True)

    def warm_start_mismatch(self, saved_model_dir: str) -> str:
        """Why the served model's variables cannot initialise this Estimator ('' when they can):
        the training graph is built once (no step runs) and every trainable variable must be in
        the served checkpoint, by name, with its shape, as ``WarmStartSettings`` needs."""
        if self.job.decision.converted:  # a Keras model's weights, restored by its layers
            return weights_mismatch(self.job, saved_model_dir)
        if (self.job.p.estimator or "").startswith("BoostedTrees"):
            return "BoostedTrees ensembles are not variables: tf.estimator cannot warm start them"
        estimator = self.build(local=True)
        with tf.Graph().as_default():
            dataset = self._input("train", True)()
            features, labels = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
            estimator.model_fn(features, labels, tf.estimator.ModeKeys.TRAIN, estimator.config)
            wanted = {v.op.name: v.shape.as_list() for v in tf.compat.v1.trainable_variables()}
        have = dict(tf.train.list_variables(served_variables(saved_model_dir)))
        missing = sorted(n for n in wanted if n not in have)
        if missing:
            return f"the served model has no variable(s) {missing[:5]} of this model"
        wrong = [f"{n} {have[n]} -> {s}" for n, s in sorted(wanted.items()) if list(have[n]) != s]
        if wrong:
            return "the served model's variable shapes differ: " + "; ".join(wrong[:5])
        return ""

    def _input(self, split: str, repeat: bool) -> Callable[[], tf.data.Dataset]:
        p = self.job.p

        def input_fn() -> tf.data.Dataset:
            ds = make_dataset(
                self.job.transform, split, p.label, p.batch_size, repeat=repeat, seed=p.seed
            )
            return ds if repeat else ds.take(p.eval_steps).cache()

        return input_fn

    def train(
        self, progress: Callable[[str], None], checkpointed: Callable[[], None] = lambda: None
    ) -> dict[str, Any]:
        """``checkpointed``: called after each checkpoint the chief saves."""
        job, p = self.job, self.job.p
        estimator = self.build(local=job.cluster.task_type == "evaluator")
        train_input, eval_input = self._input("train", True), self._input("eval", False)
        hook = ProgressHook(progress, p.checkpoint_every)
        input_eps = input_throughput(train_input(), min(p.train_steps, 200), p.batch_size)
        start = time.perf_counter()
        result = tf.estimator.train_and_evaluate(
            estimator,
            tf.estimator.TrainSpec(
                train_input,
                max_steps=p.train_steps,
                hooks=[hook],
                saving_listeners=[AfterSave(checkpointed)],
            ),
            tf.estimator.EvalSpec(eval_input, steps=None, start_delay_secs=0, throttle_secs=0),
        )
        seconds = time.perf_counter() - start
        metrics = result[0] if result and result[0] else None
        if metrics is None and job.cluster.is_chief:
            # In a cluster the chief's train_and_evaluate returns nothing (evaluation is another
            # task's job): score the final checkpoint on the same bounded eval batches here.
            metrics = self.build(local=True).evaluate(eval_input, name="final")
        final_step = hook.last_step
        first = hook.first_step or 0
        eps = (final_step - first) * p.batch_size / seconds
        return {
            "steps": final_step,
            "resumed_from_step": first,
            "train_seconds": round(seconds, 3),
            "examples_per_second": round(eps, 1),
            "input_examples_per_second": round(input_eps, 1),
            "input_time_share": round(min(1.0, eps / input_eps), 3),
            "final": {k: float(v) for k, v in (metrics or {}).items() if k != "global_step"},
        }

    def export(self, export_dir: str) -> list[str] | None:
        """Export the latest checkpoint with ``serving_default``, ``transform_features`` and
        ``serving_raw`` (see ``estimator_export``); return the class names."""
        job = self.job
        estimator = self.build(local=True, exporting=True)
        receiver = serving_receiver(job.transform, job.p.raw_label)
        staging = estimator.export_saved_model(os.path.join(job.work_dir, "export"), receiver)
        staging = staging.decode() if isinstance(staging, bytes) else staging
        name_raw_signature(staging)
        os.rename(staging, export_dir)
        return self.classes if job.p.task == "classification" else None
