"""Batch scoring written as one lean script, the way a competent engineer would without tfpipe:
the yardstick ``tfpipe score`` is compared with.

    .venvs/modern/bin/python benchmarks/lean_score.py --model DIR --data taxi.csv --out p.parquet

Load the SavedModel; read the whole CSV with pandas; per 32k-row slice, encode raw tf.Examples
with tfx-bsl's C++ encoder, call ``serving_default``, keep the outputs; write one Parquet file of
the predictions. One process, one thread of Python, the whole CSV in memory. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

NA = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]
BATCH = 32_768


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    start = time.perf_counter()

    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    import tensorflow as tf
    from tfx_bsl.coders import example_coder

    from benchmarks.lean_script import column_kind

    serve = tf.saved_model.load(args.model).signatures["serving_default"]
    loaded = time.perf_counter()
    frame = pd.read_csv(args.data, na_values=NA, keep_default_na=False)

    kinds = {c: column_kind(frame[c]) for c in frame.columns}
    arrow = {"int": pa.int64(), "float": pa.float32(), "string": pa.binary()}
    encoder = example_coder.RecordBatchToExamplesEncoder()
    outputs: dict[str, list[np.ndarray]] = {}
    for begin in range(0, len(frame), BATCH):
        part = frame.iloc[begin : begin + BATCH]
        columns, names = [], []
        for name, k in kinds.items():
            values = part[name]
            present = values.notna().to_numpy()
            flat = values[present]
            if k == "string":
                flat = flat.astype(str).str.encode("utf-8")
            flat = pa.array(flat.to_numpy(), arrow[k])
            offsets = np.concatenate([[0], np.cumsum(present)]).astype(np.int32)
            columns.append(pa.ListArray.from_arrays(pa.array(offsets), flat))
            names.append(name)
        examples = encoder.encode(pa.RecordBatch.from_arrays(columns, names=names))
        for key, value in serve(examples=tf.constant(examples)).items():
            outputs.setdefault(key, []).append(value.numpy())
    result = {k: np.concatenate(v) for k, v in outputs.items()}
    table = {}
    if "probabilities" in result:
        table["class_id"] = result["class_ids"]
        for k in range(result["probabilities"].shape[1]):
            table[f"probability_{k}"] = result["probabilities"][:, k]
    else:
        table["prediction"] = result["predictions"].reshape(-1)
    pq.write_table(pa.table(table), args.out)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "rows": len(frame),
                "seconds": round(seconds, 3),
                "scoring_seconds": round(time.perf_counter() - loaded, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
