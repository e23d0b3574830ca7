"""The model side of scoring (imports TensorFlow): ``serving_default`` on serialized raw
tf.Examples, as a serving client calls it, and its outputs as output columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import tensorflow as tf

from tfpipe.components.bulk_inferrer.columns import (
    CLASS,
    CLASS_ID,
    PREDICTION,
    PROBABILITY,
    prediction_columns,
)
from tfpipe.components.core.errors import InputDataError
from tfpipe.components.core.tf_features import DTYPES

SIGNATURE = "serving_default"


class Scorer:
    """A loaded SavedModel's ``serving_default``. ``info``: what the trainer recorded with it
    (task, class names, raw feature types; may be empty for a model pushed by others)."""

    def __init__(self, model_dir: str, info: dict[str, Any], name: str) -> None:
        self.name = name
        self.info = info
        loaded = tf.saved_model.load(model_dir)
        if SIGNATURE not in loaded.signatures:
            raise InputDataError(
                f"bulk_inferrer: {name} has no '{SIGNATURE}' signature "
                f"(signatures: {sorted(loaded.signatures)})"
            )
        self._loaded = loaded  # keeps the signature's variables alive
        self.serve = loaded.signatures[SIGNATURE]

    def __call__(self, records: list[bytes]) -> dict[str, np.ndarray]:
        try:
            outputs = self.serve(examples=tf.constant(records, dtype=tf.string))
        except tf.errors.InvalidArgumentError as exc:
            raise InputDataError(
                f"bulk_inferrer: {self.name} refused the rows: {exc.message.splitlines()[0]}"
            ) from None
        return {k: v.numpy() for k, v in outputs.items()}

    def task(self, outputs: dict[str, np.ndarray]) -> str:
        return task_of(outputs, self.name)

    def columns(self, outputs: dict[str, np.ndarray]) -> dict[str, pa.Array]:
        return prediction_arrays(outputs, self.info.get("classes"), self.name)


def task_of(outputs: dict[str, np.ndarray], name: str) -> str:
    if "probabilities" in outputs:
        return "classification"
    if "predictions" in outputs:
        return "regression"
    raise InputDataError(
        f"bulk_inferrer: {name}'s {SIGNATURE} returns {sorted(outputs)}, neither "
        "'probabilities' (a classifier) nor 'predictions' (a regressor): not the serving contract"
    )


def prediction_arrays(
    outputs: dict[str, np.ndarray], classes: list[str] | None, name: str
) -> dict[str, pa.Array]:
    """The prediction columns of one batch of ``serving_default`` outputs (see
    ``columns.prediction_columns``); ``classes``: the names the model records, if any."""
    task = task_of(outputs, name)
    if task == "regression":
        return {PREDICTION: pa.array(outputs["predictions"].reshape(-1))}
    probabilities = outputs["probabilities"]
    width = probabilities.shape[1]
    if not classes or len(classes) != width:
        classes = [str(i) for i in range(width)]
    columns: dict[str, pa.Array] = {
        CLASS_ID: pa.array(outputs["class_ids"].reshape(-1).astype(np.int64)),
        CLASS: pa.array(outputs["classes"].reshape(-1), pa.binary()).cast(pa.string()),
    }
    for k, column in enumerate(prediction_columns(task, [str(c) for c in classes])[2:]):
        assert column.startswith(PROBABILITY)
        columns[column] = pa.array(probabilities[:, k])
    return columns


def passthrough_from_examples(records: list[bytes], kinds: dict[str, str]) -> pa.Table:
    """Passthrough columns read from serialized tf.Examples (a missing feature is a null)."""
    if not kinds:
        return pa.table({})
    spec = {name: tf.io.VarLenFeature(DTYPES[kind]) for name, kind in kinds.items()}
    parsed = tf.io.parse_example(tf.constant(records, dtype=tf.string), spec)
    rows = len(records)
    columns = {}
    for name, kind in kinds.items():
        sparse = parsed[name]
        present = np.zeros(rows, dtype=bool)
        index = sparse.indices.numpy()
        values = sparse.values.numpy()
        # One value per row (ExampleGen writes scalars): the first where a row holds more.
        first = np.unique(index[:, 0], return_index=True)[1] if len(index) else np.array([], int)
        rows_with = index[first, 0] if len(index) else np.array([], int)
        present[rows_with] = True
        if kind == "string":
            full = np.full(rows, b"", dtype=object)
            full[rows_with] = values[first]
            array = pa.array(full, pa.binary(), mask=~present).cast(pa.string())
        else:
            dtype = values.dtype if len(values) else DTYPES[kind].as_numpy_dtype
            full = np.zeros(rows, dtype=dtype)
            full[rows_with] = values[first]
            array = pa.array(full, mask=~present)
        columns[name] = array
    return pa.table(columns)
