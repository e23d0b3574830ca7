"""The same work as the taxi pipeline, written as one lean script, the way a competent engineer
would without an orchestrator: the yardstick tfpipe's pipeline is compared with.

    .venvs/modern/bin/python benchmarks/lean_script.py --data taxi.csv --work DIR

CSV (pandas) → hash split → tf.Transform (AnalyzeAndTransformDataset on Arrow record batches,
in-memory Beam, transformed splits written as TFRecords) → Keras 1000 steps × 40 → SavedModel
with the transform graph (raw tf.Examples in) → eval split scored through the serving signature
(AUC). No caching, no validation, no records; the whole CSV is held in memory. Prints one JSON
line with the phases' seconds and the eval AUC.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from typing import Any

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

NA = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]


def column_kind(column: Any) -> str:
    """pandas reads an integer column with missing values as float: whole-number float columns
    are integers (as the pipeline's ExampleGen infers them)."""
    if column.dtype.kind == "i":
        return "int"
    if column.dtype.kind == "f":
        return "int" if (column.dropna() % 1 == 0).all() else "float"
    return "string"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=40)
    args = parser.parse_args()
    phases: dict[str, float] = {}
    t0 = time.perf_counter()

    import apache_beam as beam
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import tensorflow as tf
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils
    from tfx_bsl.coders import example_coder
    from tfx_bsl.public import tfxio
    from tfx_bsl.tfxio import tensor_representation_util

    from benchmarks.taxi import user_module

    phases["import"] = time.perf_counter() - t0

    # 1. Read and split (a stable hash of each row: 80 / 20).
    t = time.perf_counter()
    df = pd.read_csv(args.data, na_values=NA, keep_default_na=False)
    bucket = pd.util.hash_pandas_object(df, index=False).to_numpy() % 10
    splits = {"train": df[bucket < 8], "eval": df[bucket >= 8]}
    phases["read_split"] = time.perf_counter() - t

    # 2. tf.Transform: analyse train, transform both splits, write them as TFRecords.
    t = time.perf_counter()

    kinds = {c: column_kind(df[c]) for c in df.columns}
    dtypes = {"int": tf.int64, "float": tf.float32, "string": tf.string}
    spec = {c: tf.io.VarLenFeature(dtypes[k]) for c, k in kinds.items()}
    schema = schema_utils.schema_from_feature_spec(spec)
    arrow = {
        "int": pa.large_list(pa.int64()),
        "float": pa.large_list(pa.float32()),
        "string": pa.large_list(pa.large_binary()),
    }

    def record_batches(frame: pd.DataFrame, size: int = 10_000) -> list[pa.RecordBatch]:
        out = []
        for start in range(0, len(frame), size):
            part = frame.iloc[start : start + size]
            cols = []
            for c, k in kinds.items():
                values = part[c]
                present = values.notna().to_numpy()
                flat = values[present]
                if k == "int":
                    flat = pa.array(flat.astype(np.int64).to_numpy())
                elif k == "float":
                    flat = pa.array(flat.astype(np.float32).to_numpy())
                else:
                    flat = pa.array(flat.astype(str).str.encode("utf-8"), pa.large_binary())
                offsets = np.concatenate([[0], np.cumsum(present)]).astype(np.int64)
                cols.append(pa.LargeListArray.from_arrays(pa.array(offsets), flat))
            out.append(pa.RecordBatch.from_arrays(cols, list(kinds)))
        return out

    arrow_schema = pa.schema([pa.field(c, arrow[k]) for c, k in kinds.items()])
    config = tfxio.TensorAdapterConfig(
        arrow_schema, tensor_representation_util.InferTensorRepresentationsFromSchema(schema)
    )
    graph_dir = os.path.join(args.work, "transform_graph")
    encoder = example_coder.RecordBatchToExamplesEncoder()
    with (
        beam.Pipeline(argv=["--direct_running_mode=in_memory"]) as p,
        tft_beam.Context(temp_dir=os.path.join(args.work, "tmp")),
    ):
        train = p | "Train" >> beam.Create(record_batches(splits["train"]))
        (transformed, _), transform_fn = (train, config) | tft_beam.AnalyzeAndTransformDataset(
            user_module.preprocessing_fn, output_record_batches=True
        )
        _ = transform_fn | tft_beam.WriteTransformFn(graph_dir)
        _ = dataset_metadata.DatasetMetadata(schema) | tft_beam.WriteMetadata(
            os.path.join(graph_dir, tft.TFTransformOutput.RAW_METADATA_DIR), p
        )
        _ = (
            transformed
            | beam.FlatMap(lambda rb: encoder.encode(rb[0]))
            | beam.io.WriteToTFRecord(os.path.join(args.work, "train"))
        )
    phases["transform"] = time.perf_counter() - t

    # 3. Train.
    t = time.perf_counter()
    output = tft.TFTransformOutput(graph_dir)
    xf_spec = output.transformed_feature_spec()
    domains = {f.name: f for f in output.transformed_metadata.schema.feature}

    class Feature:
        def __init__(self, name: str) -> None:
            self.name, self.dtype = name, xf_spec[name].dtype
            categorical = domains[name].HasField("int_domain")
            self.kind = "categorical" if categorical else "numeric"
            self.num_buckets = int(domains[name].int_domain.max) + 1 if categorical else 0

    features = [Feature(n) for n in sorted(xf_spec) if n != "tipped"]
    model = user_module.build_keras_model(features, {})
    files = tf.io.gfile.glob(os.path.join(args.work, "train*"))
    ds = (
        tf.data.TFRecordDataset(files)
        .shuffle(10_000, seed=0)
        .repeat()
        .batch(args.batch)
        .map(lambda x: tf.io.parse_example(x, xf_spec))
        .map(lambda f: (f, f.pop("tipped")))
        .prefetch(tf.data.AUTOTUNE)
    )
    model.fit(ds, steps_per_epoch=args.steps, epochs=1, verbose=0)
    phases["train"] = time.perf_counter() - t

    # 4. Export the serving signature (raw tf.Examples in, transform graph inside).
    t = time.perf_counter()
    model.tft_layer = output.transform_features_layer()
    raw_spec = output.raw_feature_spec()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized):
        transformed = model.tft_layer(tf.io.parse_example(serialized, raw_spec))
        return {"probabilities": model({f.name: transformed[f.name] for f in features})}

    export = os.path.join(args.work, "serving")
    tf.saved_model.save(model, export, signatures={"serving_default": serve})
    phases["export"] = time.perf_counter() - t

    # 5. Score the eval split through the served signature.
    t = time.perf_counter()
    served = tf.saved_model.load(export).signatures["serving_default"]
    auc = tf.keras.metrics.AUC(num_thresholds=10_001)
    evaluation = splits["eval"]
    for batch in record_batches(evaluation, 32_768):
        serialized = tf.constant(encoder.encode(batch))
        parsed = tf.io.parse_example(
            serialized,
            {"tips": tf.io.VarLenFeature(tf.float32), "fare": tf.io.VarLenFeature(tf.float32)},
        )
        tips = tf.sparse.to_dense(parsed["tips"])[:, 0]
        fare = tf.sparse.to_dense(parsed["fare"])[:, 0]
        labels = tf.cast(tips > 0.2 * fare, tf.float32)
        auc.update_state(labels, served(examples=serialized)["probabilities"][:, 0])
    phases["evaluate"] = time.perf_counter() - t

    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "rows": len(df),
                "wall": round(time.perf_counter() - t0, 2),
                "cpu": round(usage.ru_utime + usage.ru_stime, 2),
                "peak_rss_mb": round(usage.ru_maxrss / 1024),
                "phases": {k: round(v, 2) for k, v in phases.items()},
                "eval_auc": round(float(auc.result()), 4),
            }
        )
    )


if __name__ == "__main__":
    main()
