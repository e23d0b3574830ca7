"""Load an exported SavedModel in a fresh process and score raw examples with it.

    python -m components.pusher.validate SAVED_MODEL EXAMPLES_FILE COUNT

Catches export bugs (missing assets, untracked resources, a signature that only works in the
process that built it) before TensorFlow Serving would. Prints a JSON line; exit 1 on failure.
"""

from __future__ import annotations

import json
import sys

from components.core.worker import hard_exit


def main(export_dir: str, examples_file: str, count: int) -> int:
    import numpy as np
    import tensorflow as tf

    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    batch = next(iter(tf.data.TFRecordDataset(examples_file).batch(count)))
    outputs = serve(examples=batch)
    rows = int(batch.shape[0])
    problems = []
    for name, value in outputs.items():
        array = value.numpy()
        if array.shape[0] != rows:
            problems.append(f"output '{name}' has {array.shape[0]} rows for {rows} examples")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            problems.append(f"output '{name}' has non-finite values")
    print(
        json.dumps(
            {"ok": not problems, "rows": rows, "outputs": sorted(outputs), "problems": problems}
        ),
        flush=True,
    )
    return 0 if not problems else 1


if __name__ == "__main__":
    try:
        code = main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    except Exception as exc:  # reported as JSON for the pusher
        print(json.dumps({"ok": False, "problems": [f"{type(exc).__name__}: {exc}"]}), flush=True)
        code = 1
    hard_exit(code)
