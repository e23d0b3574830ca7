"""Validate a SavedModel copy before it is published: load it from its new place and score raw
examples through ``serving_default``.

Loading the *copy* catches what TF Serving would trip over (missing assets, paths that point back
into the training artifact, an unloadable signature) without a second TensorFlow start-up.
"""

from __future__ import annotations

from typing import Any

from components.core.errors import TfpipeError


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
