"""Keras training: ``model.fit`` (optionally under a tf.distribute strategy) with TensorBoard
summaries, checkpoints, and resume-after-crash through ``BackupAndRestore``."""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from tfpipe.components.artifacts import read_json, write_json_atomic
from tfpipe.components.core.errors import UserCodeError
from tfpipe.components.core.user_code import guarded, load_function
from tfpipe.components.trainer.data import input_throughput, make_dataset
from tfpipe.components.trainer.export import export_keras
from tfpipe.components.trainer.job import TrainingJob

FINAL_WEIGHTS = "final.weights.h5"
FINAL_STATS = "final_stats.json"  # written after FINAL_WEIGHTS: training is complete


class ProgressCallback(tf.keras.callbacks.Callback):
    """Reports each epoch (a checkpoint interval) and the step training (re)started from."""

    def __init__(self, progress: Callable[[str], None], epochs: int) -> None:
        super().__init__()
        self.progress, self.epochs = progress, epochs
        self.start_step = 0

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        # BackupAndRestore (an earlier callback) has restored the optimizer by now.
        self.start_step = int(self.model.optimizer.iterations.numpy())
        if self.start_step:
            self.progress(f"resuming from step {self.start_step}")

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        shown = ", ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items())
        self.progress(f"epoch {epoch + 1}/{self.epochs} step {step}: {shown}")


def build_model(job: TrainingJob) -> tf.keras.Model:
    p = job.p
    builder = guarded(load_function(p.module_file, p.model_fn), p.module_file, "model builder")
    model = builder(job.features, job.hparams)
    if not isinstance(model, tf.keras.Model):
        raise UserCodeError(
            f"model builder '{p.model_fn}' in {p.module_file} must return a tf.keras.Model, "
            f"got {type(model).__name__}"
        )
    if not model.optimizer:
        raise UserCodeError(f"model builder '{p.model_fn}' must return a compiled model")
    check_model_signature(model, job)
    return model


def check_model_signature(model: tf.keras.Model, job: TrainingJob) -> None:
    """Before any training step: the model's inputs are transformed features and its output has
    one unit per class (or one sigmoid unit for two classes, or one value for regression)."""
    p = job.p
    where = f"model builder '{p.model_fn}' in {p.module_file}"
    known = [f.name for f in job.features]
    unknown = [n for n in getattr(model, "input_names", []) if n not in known]
    if unknown:
        raise UserCodeError(
            f"{where}: the model takes inputs {unknown} that are not transformed features; "
            f"the features are {known}"
        )
    shape = model.outputs[0].shape
    units = shape[-1] if shape.rank and shape.rank > 1 else 1
    classes = job.hparams.get("num_classes")
    if p.task == "classification" and classes:
        allowed = {classes, 1} if classes == 2 else {classes}
        need = f"[N, {classes}] (one unit per class"
        need += ", or [N, 1] sigmoid)" if classes == 2 else ")"
    elif p.task == "regression":
        allowed, need = {1}, "[N, 1] or [N] (one value per example)"
    else:
        return
    if units not in allowed:
        raise UserCodeError(
            f"{where}: the model's output has shape {shape.as_list()}; a {p.task} model "
            f"here needs {need}"
        )


def restore_served_weights(model: tf.keras.Model, saved_model_dir: str) -> None:
    """Load the weights of a served tfpipe Keras SavedModel into ``model`` (a warm start).

    The SavedModel's variables are a checkpoint whose root is the saved Keras model, so its
    layers are matched by their place in the model, not by their (process-dependent) names. The
    optimizer is left out: a warm start takes the served weights, not its step count or its
    moments. Raises (ValueError, AssertionError) when a layer's variables are missing or of
    another shape."""
    children = {k: v for k, v in model._trackable_children().items() if k != "optimizer"}
    status = tf.train.Checkpoint(**children).read(
        os.path.join(saved_model_dir, "variables", "variables")
    )
    status.assert_existing_objects_matched()


def weights_mismatch(job: TrainingJob, saved_model_dir: str) -> str:
    """Why the served model's weights cannot initialise this job's model ('' when they can):
    restored into a scratch copy, so a half restore never reaches the model that trains."""
    try:
        restore_served_weights(build_model(job), saved_model_dir)
    except (ValueError, AssertionError, tf.errors.OpError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"the served model's layers do not fit this model ({first[:300]})"
    finally:
        # Layer names count up per process: the model that trains must get the names a fresh
        # process gives it (model_to_estimator warm-starts its graph by those names).
        tf.keras.backend.clear_session()
    return ""


def make_strategy(distribution: str) -> tf.distribute.Strategy | None:
    if distribution == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if distribution == "mirrored":
        return tf.distribute.MirroredStrategy()
    return None


class KerasBackend:
    """Trains the user's Keras model; exports it with the transform graph inside."""

    def __init__(self, job: TrainingJob) -> None:
        self.job = job
        self.model: tf.keras.Model | None = None

    def prepare_cluster(self) -> None:
        """Nothing to prepare before a local cluster starts."""

    def warm_start_mismatch(self, saved_model_dir: str) -> str:
        return weights_mismatch(self.job, saved_model_dir)

    def train(
        self, progress: Callable[[str], None], checkpointed: Callable[[], None] = lambda: None
    ) -> dict[str, Any]:
        """``checkpointed``: called after each checkpoint and after the final weights."""
        job, p = self.job, self.job.p
        # A strategy must exist before any other TensorFlow op in a cluster task.
        strategy = make_strategy(job.decision.distribution)
        tf.keras.utils.set_random_seed(p.seed)
        with strategy.scope() if strategy else _NullScope():
            model = build_model(job)
            if job.warm_start_from:  # checked compatible; a crash's backup restores over it
                restore_served_weights(model, job.warm_start_from)
        finished = self._finished_training(model) if strategy is None else None
        if finished is not None:  # killed after training, before the commit: nothing to redo
            progress(f"training had finished ({finished['steps']} steps); restored its weights")
            return finished
        epochs = math.ceil(p.train_steps / p.checkpoint_every)
        train = make_dataset(
            job.transform, "train", p.label, p.batch_size, repeat=True, seed=p.seed
        )
        evaluation = (
            make_dataset(job.transform, "eval", p.label, p.batch_size, repeat=False, seed=p.seed)
            .take(p.eval_steps)
            .cache()
        )  # the same bounded batches at every checkpoint, read once
        if strategy is not None:
            options = tf.data.Options()
            options.experimental_distribute.auto_shard_policy = (
                tf.data.experimental.AutoShardPolicy.DATA
            )
            train, evaluation = train.with_options(options), evaluation.with_options(options)
        probe = ProgressCallback(progress, epochs)
        work_dir = job.work_dir
        callbacks = [
            # Restores weights, optimizer and epoch after a crash: a re-run resumes, not restarts.
            tf.keras.callbacks.BackupAndRestore(os.path.join(work_dir, "checkpoints", "backup")),
            tf.keras.callbacks.TensorBoard(
                os.path.join(work_dir, "logs"), update_freq="epoch", write_graph=False
            ),
            tf.keras.callbacks.ModelCheckpoint(
                os.path.join(work_dir, "checkpoints", "epoch-{epoch:04d}.weights.h5"),
                save_weights_only=True,
            ),
            probe,
            # After the checkpoints above are written: mirror them (a remote store's scratch).
            _AfterCheckpoint(checkpointed),
        ]
        input_eps = input_throughput(train, min(p.train_steps, 50), p.batch_size)
        start = time.perf_counter()
        history = model.fit(
            train,
            epochs=epochs,
            steps_per_epoch=p.checkpoint_every,
            validation_data=evaluation,
            callbacks=callbacks,
            verbose=0,
        )
        seconds = time.perf_counter() - start
        final_step = int(model.optimizer.iterations.numpy())
        # Every worker saves (collectives may be involved); only the chief's copy is kept.
        target = work_dir if job.cluster.is_chief else tempfile.mkdtemp(prefix="tfpipe-task-")
        model.save_weights(os.path.join(target, FINAL_WEIGHTS))
        # A distributed model's variables need every task for a read (collectives) and the
        # other tasks are gone by export: the chief exports a fresh model from the final weights.
        self.model = model if strategy is None else None
        trained = final_step - probe.start_step
        eps = trained * p.batch_size / seconds if seconds else 0.0
        stats = {
            "epochs": epochs,
            "steps": final_step,
            "resumed_from_step": probe.start_step,
            "train_seconds": round(seconds, 3),
            "examples_per_second": round(eps, 1),
            "input_examples_per_second": round(input_eps, 1),
            "input_time_share": round(min(1.0, eps / input_eps), 3),
            "final": {k: float(v[-1]) for k, v in history.history.items()},
        }
        if job.cluster.is_chief:
            write_json_atomic(os.path.join(work_dir, FINAL_STATS), stats)
            checkpointed()
        return stats

    def _finished_training(self, model: tf.keras.Model) -> dict[str, Any] | None:
        """The stats of a training that completed in this work directory (same fingerprint)
        before the process died, with its final weights loaded into ``model``; else None."""
        stats_path = os.path.join(self.job.work_dir, FINAL_STATS)
        if not os.path.exists(stats_path):
            return None
        stats = dict(read_json(stats_path))
        model.load_weights(os.path.join(self.job.work_dir, FINAL_WEIGHTS))
        self.model = model
        steps = stats["steps"]
        return {**stats, "resumed_from_step": steps, "train_seconds": 0.0}

    def export(self, export_dir: str) -> list[str] | None:
        """Export the trained model; after a cluster run, the chief's final weights in a fresh,
        undistributed model."""
        model = self.model
        if model is None:
            model = build_model(self.job)
            model.load_weights(os.path.join(self.job.work_dir, FINAL_WEIGHTS))
        return export_keras(model, self.job, export_dir)


class _AfterCheckpoint(tf.keras.callbacks.Callback):
    """Calls ``checkpointed`` at each epoch end, once the earlier callbacks saved their state."""

    def __init__(self, checkpointed: Callable[[], None]) -> None:
        super().__init__()
        self.checkpointed = checkpointed

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.checkpointed()


class _NullScope:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
