"""Keras training: ``model.fit`` with TensorBoard summaries, checkpoints and resume-after-crash."""

from __future__ import annotations

import math
import os
import time
from typing import Any

import tensorflow as tf

from components.core.errors import UserCodeError
from components.core.spec import Context
from components.core.user_code import guarded, load_function
from components.trainer.data import FeatureInfo, make_dataset, transform_output
from components.trainer.params import TrainerParams


class ProgressCallback(tf.keras.callbacks.Callback):
    """Reports each epoch (a checkpoint interval) to the runner's progress line."""

    def __init__(self, ctx: Context, epochs: int) -> None:
        super().__init__()
        self.ctx, self.epochs = ctx, epochs

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items())
        self.ctx.progress(f"epoch {epoch + 1}/{self.epochs}: {shown}")


def build_model(p: TrainerParams, features: list[FeatureInfo], hparams: dict[str, Any]):
    builder = guarded(load_function(p.module_file, p.model_fn), p.module_file, "model builder")
    model = builder(features, hparams)
    if not isinstance(model, tf.keras.Model):
        raise UserCodeError(
            f"model builder '{p.model_fn}' in {p.module_file} must return a tf.keras.Model, "
            f"got {type(model).__name__}"
        )
    if not model.optimizer:
        raise UserCodeError(f"model builder '{p.model_fn}' must return a compiled model")
    return model


def train_keras(
    ctx: Context,
    features: list[FeatureInfo],
    hparams: dict[str, Any],
    work_dir: str,
    strategy: tf.distribute.Strategy | None = None,
) -> tuple[tf.keras.Model, dict[str, Any]]:
    p: TrainerParams = ctx.params
    transform = ctx.inputs["transform"]
    output = transform_output(transform)
    tf.keras.utils.set_random_seed(p.seed)
    scope = strategy.scope() if strategy else _null_scope()
    with scope:
        model = build_model(p, features, hparams)
    epochs = math.ceil(p.train_steps / p.steps_per_epoch)
    train = make_dataset(
        transform, "train", output, p.label, p.batch_size, repeat=True, seed=p.seed
    )
    evaluation = make_dataset(
        transform, "eval", output, p.label, p.batch_size, repeat=False, seed=p.seed
    )
    callbacks = [
        tf.keras.callbacks.TensorBoard(os.path.join(work_dir, "logs"), update_freq="epoch"),
        # Restores weights, optimizer and epoch after a crash: a re-run resumes, not restarts.
        tf.keras.callbacks.BackupAndRestore(os.path.join(work_dir, "checkpoints", "backup")),
        tf.keras.callbacks.ModelCheckpoint(
            os.path.join(work_dir, "checkpoints", "epoch-{epoch:04d}.weights.h5"),
            save_weights_only=True,
        ),
        ProgressCallback(ctx, epochs),
    ]
    start = time.perf_counter()
    history = model.fit(
        train,
        epochs=epochs,
        steps_per_epoch=p.steps_per_epoch,
        validation_data=evaluation,
        callbacks=callbacks,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    final = {k: float(v[-1]) for k, v in history.history.items()}
    return model, {
        "epochs": epochs,
        "steps": epochs * p.steps_per_epoch,
        "train_seconds": round(seconds, 3),
        "examples_per_second": round(epochs * p.steps_per_epoch * p.batch_size / seconds, 1),
        "final": final,
    }


class _null_scope:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
