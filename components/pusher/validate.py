"""Check a SavedModel copy before it is published, so TF Serving never loads a broken version.

``checksum`` (default): the copy is byte-identical to the SavedModel the Evaluator loaded from the
model artifact and scored on every eval example through ``serving_default``; SavedModels refer to
their files by relative paths, so the copy serves the same. No TensorFlow needed.
``load``: load the copy from its new place and score raw examples (catches what a checksum cannot
when the export was modified after evaluation, at the cost of a model load).
"""

from __future__ import annotations

import os
from typing import Any

from tfpipe.components.core.errors import TfpipeError


def same_files(source: str, copy: str) -> dict[str, Any]:
    """Every file of the copy has the source's bytes (the source is the SavedModel the Evaluator
    loaded and scored through serving_default): a SavedModel refers to its files by relative
    paths, so an identical copy serves identically."""
    from tfpipe.components.core.fingerprint import file_digest

    names = sorted(
        os.path.relpath(os.path.join(root, f), source)
        for root, _, files in os.walk(source)
        for f in files
    )
    for name in names:
        copied = os.path.join(copy, name)
        if not os.path.isfile(copied) or file_digest(copied) != file_digest(
            os.path.join(source, name)
        ):
            raise TfpipeError(
                f"pusher: the copy of {name} differs from the evaluated model; nothing was pushed"
            )
    return {"files": len(names)}


def validate_saved_model(export_dir: str, examples_file: str, count: int) -> dict[str, Any]:
    import numpy as np
    import tensorflow as tf

    try:
        serve = tf.saved_model.load(export_dir).signatures["serving_default"]
        batch = next(iter(tf.data.TFRecordDataset(examples_file).batch(count)))
        outputs = serve(examples=batch)
    except Exception as exc:
        raise TfpipeError(
            f"pusher: the exported model failed validation ({type(exc).__name__}: {exc}); "
            "nothing was pushed"
        ) from exc
    rows = int(batch.shape[0])
    problems = []
    for name, value in outputs.items():
        array = value.numpy()
        if array.shape[0] != rows:
            problems.append(f"output '{name}' has {array.shape[0]} rows for {rows} examples")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            problems.append(f"output '{name}' has non-finite values")
    if problems:
        raise TfpipeError(
            f"pusher: the exported model failed validation: {problems}; nothing was pushed"
        )
    return {"rows": rows, "outputs": sorted(outputs)}
