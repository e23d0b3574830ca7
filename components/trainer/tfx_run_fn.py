"""TFX's generic trainer contract: the module's ``run_fn(fn_args)`` builds, trains and saves its own
serving SavedModel; tfpipe fills ``FnArgs`` with TFX's meaning, checks that the SavedModel serves
raw tf.Examples, and commits it as the Model artifact (imports TensorFlow).

The module owns the model, the input pipeline (through ``fn_args.data_accessor``), the strategy
scope it opens and the signatures it saves. tfpipe records what the Evaluator needs to score it:
the task (``trainer.task``), the label (the ``label_key`` the module read its datasets with), the
class count, the signatures and the outputs of ``serving_default``. A run killed after ``run_fn``
returned reuses its SavedModel; killed before, ``run_fn`` runs again (it owns its checkpoints).
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import tensorflow as tf

from tfpipe.components.artifacts import (
    Model,
    ServingDirectory,
    TransformGraph,
    read_json,
    write_json_atomic,
)
from tfpipe.components.core.errors import UserCodeError
from tfpipe.components.core.spec import Context
from tfpipe.components.core.user_code import guarded, load_function
from tfpipe.components.trainer.contract import RUN_FN
from tfpipe.components.trainer.data import label_names
from tfpipe.components.trainer.params import TrainerParams
from tfpipe.components.trainer.tfx_data import TransformedData
from tfpipe.tfx.components.trainer.fn_args_utils import FnArgs

SIGNATURE = "serving_default"
DONE = "run_fn_done.json"  # written once run_fn returned and its SavedModel passed the checks
CHECK_ROWS = 8
REASON = (
    "the module defines run_fn(fn_args) (TFX's generic trainer): it builds, trains and saves its "
    "own model, under the strategy scope it opens"
)


def run(ctx: Context) -> dict[str, Any]:
    p: TrainerParams = ctx.params
    transform: TransformGraph = ctx.inputs["transform"]
    model: Model = ctx.output
    work = ctx.scratch_dir
    serving_dir, run_dir = os.path.join(work, "serving_model"), os.path.join(work, "logs")
    os.makedirs(work, exist_ok=True)
    data = TransformedData(transform)
    base_model = _base_model(p, ctx.external.get("base_model_version"))
    done = os.path.join(work, DONE)
    stats = read_json(done) if os.path.exists(done) else None
    if stats is not None:
        ctx.progress("run_fn had finished before this attempt; reusing its SavedModel")
    else:
        shutil.rmtree(serving_dir, ignore_errors=True)  # half saved by a killed attempt
        fn_args = FnArgs(
            working_dir=os.path.join(work, "working"),
            train_files=data.files("train"),
            eval_files=data.files("eval"),
            train_steps=p.train_steps,
            eval_steps=p.eval_steps,
            schema_path=_raw_schema_file(transform),
            schema_file=_raw_schema_file(transform),
            transform_graph_path=transform.graph_dir,
            transform_output=transform.graph_dir,
            data_accessor=data.accessor(),
            serving_model_dir=serving_dir,
            eval_model_dir=serving_dir,
            model_run_dir=run_dir,
            base_model=base_model,
            hyperparameters=dict(p.hyperparameters) or None,
            custom_config=dict(p.custom_config) or None,
        )
        run_fn = guarded(load_function(p.module_file, RUN_FN), p.module_file, "run_fn")
        ctx.progress(
            f"run_fn: {p.train_steps} train steps, {p.eval_steps} eval steps on "
            f"{'transformed' if transform.materialized else 'raw (transformed on the fly)'} "
            "examples" + (f", warm start from {base_model}" if base_model else "")
        )
        tf.keras.utils.set_random_seed(p.seed)
        start = time.perf_counter()
        run_fn(fn_args)
        seconds = time.perf_counter() - start
        batch = data.batch_sizes.get(fn_args.train_files[0]) if fn_args.train_files else None
        stats = {
            "steps": p.train_steps,
            "train_seconds": round(seconds, 3),
            "examples_per_second": round(p.train_steps * batch / seconds, 1)
            if batch and seconds
            else None,
            # the label_key the module read its datasets with (else trainer.label, if it is a
            # transformed feature: a module that builds its datasets itself)
            "label": data.label_keys[0]
            if data.label_keys
            else (p.label if p.label in data.transformed_names else None),
        }
    serving = check_serving_model(serving_dir, p.module_file, data.raw_files("eval"))
    write_json_atomic(done, stats)

    shutil.copytree(serving_dir, model.serving_dir)
    classes = class_names(p, data, stats["label"], serving)
    model.write_info(
        {
            "task": p.task,
            "label": stats["label"],
            "classes": classes,
            "features": sorted(data.transformed_names - {stats["label"]}),
            "signature": SIGNATURE,
            "contract": "run_fn",
            **serving,
            "base_model": base_model,
            "training": {"backend": RUN_FN, "distribution": "run_fn's own", "reason": REASON},
        }
    )
    if os.path.isdir(run_dir):
        shutil.copytree(run_dir, model.logs_dir)
    # The scratch goes only once the model is committed: a failure before that reuses it.
    ctx.after_commit(lambda: shutil.rmtree(work, ignore_errors=True))
    return {
        "backend": RUN_FN,
        "converted": False,
        "distribution": "run_fn's own",
        "reason": REASON,
        "cluster": {},
        **{k: v for k, v in stats.items() if k != "label"},
        "final": {},
        "task": p.task,
        "label": stats["label"],
        "classes": classes,
        "base_model": base_model,
    }


def check_serving_model(export_dir: str, module_file: str, raw_files: list[str]) -> dict[str, Any]:
    """The SavedModel ``run_fn`` saved must have a ``serving_default`` that takes serialized raw
    tf.Examples (one string tensor) and answers a few of them, one row per example. Returns what
    the Evaluator needs: the input name, the outputs, the signatures."""
    where = f"run_fn in {module_file}"
    if not tf.saved_model.contains_saved_model(export_dir):
        raise UserCodeError(
            f"{where} returned without saving a SavedModel to fn_args.serving_model_dir; save "
            "the model there, e.g. tf.saved_model.save(model, fn_args.serving_model_dir, "
            "signatures={'serving_default': …})"
        )
    loaded = tf.saved_model.load(export_dir)
    signatures = sorted(loaded.signatures)
    if SIGNATURE not in loaded.signatures:
        raise UserCodeError(
            f"the SavedModel {where} saved has no '{SIGNATURE}' signature (it has "
            f"{signatures}); save one that takes serialized tf.Examples and applies the "
            "transform graph (tft_layer), as TFX's taxi and penguin modules do"
        )
    serve = loaded.signatures[SIGNATURE]
    inputs = serve.structured_input_signature[1]
    spec = next(iter(inputs.values())) if len(inputs) == 1 else None
    if spec is None or spec.dtype != tf.string or spec.shape.rank != 1:
        taken = {k: f"{v.dtype.name}{v.shape.as_list()}" for k, v in inputs.items()}
        raise UserCodeError(
            f"'{SIGNATURE}' of the SavedModel {where} saved takes {taken}; it must take "
            "serialized tf.Examples: one string tensor of shape [None], e.g. "
            "tf.TensorSpec([None], tf.string, name='examples')"
        )
    name = next(iter(inputs))
    batch = next(iter(tf.data.TFRecordDataset(raw_files).batch(CHECK_ROWS)))
    try:
        outputs = serve(**{name: batch})
    except Exception as exc:
        raise UserCodeError(
            f"'{SIGNATURE}' of the SavedModel {where} saved fails on raw tf.Examples of the eval "
            f"split ({type(exc).__name__}: {str(exc)[:500]}); it must parse raw examples and "
            "apply the transform graph itself (tft_layer), as TFX's examples do"
        ) from exc
    rows = int(batch.shape[0])
    wrong = {k: int(v.shape[0]) for k, v in outputs.items() if v.shape.rank and v.shape[0] != rows}
    if wrong:
        raise UserCodeError(
            f"'{SIGNATURE}' of the SavedModel {where} saved returns {wrong} rows for {rows} "
            "examples; every output needs one row per example"
        )
    described = {
        k: {"shape": [None, *v.shape.as_list()[1:]], "dtype": v.dtype.name}
        for k, v in serve.structured_outputs.items()
    }
    return {
        "serving_input": name,
        "outputs": described,
        "prediction_key": next(iter(described)) if len(described) == 1 else None,
        "signatures": signatures,
    }


def class_names(
    p: TrainerParams, data: TransformedData, label: str | None, serving: dict[str, Any]
) -> list[str] | None:
    """What class id i means: the label vocabulary (``trainer.label_vocabulary``), else ids as
    text, as many as the label's integer domain, or the one output's width (one unit: two)."""
    if p.task != "classification":
        return None
    if p.label_vocabulary:
        return label_names(data.output, p.label_vocabulary)
    domains = {f.name: f for f in data.output.transformed_metadata.schema.feature}
    if label in domains and domains[label].HasField("int_domain"):
        return [str(i) for i in range(int(domains[label].int_domain.max) + 1)]
    key = serving.get("prediction_key")
    if key:
        shape = serving["outputs"][key]["shape"]
        width = shape[-1] if len(shape) > 1 and shape[-1] else 1
        return [str(i) for i in range(max(2, width))]
    return None


def _raw_schema_file(transform: TransformGraph) -> str | None:
    """The raw data's schema as tf.Transform wrote it (text format), TFX's ``schema_path``."""
    import tensorflow_transform as tft

    path = os.path.join(transform.graph_dir, tft.TFTransformOutput.RAW_METADATA_DIR, "schema.pbtxt")
    return path if os.path.exists(path) else None


def _base_model(p: TrainerParams, version: int | None) -> str | None:
    """``fn_args.base_model``: the SavedModel served now, when the pipeline asks to warm start."""
    serving = ServingDirectory.at(p.served_model_dir) if p.warm_start == "served" else None
    if serving is None or version is None:
        return None
    return serving.local_copy(version)
