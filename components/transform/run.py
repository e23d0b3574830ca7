"""Transform entry point: analyse the user's preprocessing_fn on the train split with tf.Transform
on Beam, write the transform graph, and (``materialize``) transformed copies of every split.

Analysis is per data drop with tf.Transform's analyzer cache (``analysis_cache.py``): a window
shifted by one drop analyses that drop and merges the others' cached accumulators. Two Beam
pipelines, as fast tf.Transform runs are written: one analyses (its output is small), the next
reads the graph back and transforms; both read whole TFRecord shards as Arrow record batches
of 10k rows and run the graph in TF1 compat mode (``force_tf_compat_v1``), several times faster
than per-instance or TF2-traced execution here. Any Beam runner, by ``beam_args``.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

import apache_beam as beam
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.options.pipeline_options import PipelineOptions
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils
from tfx_bsl.public import tfxio

from tfpipe.components.artifacts import Examples, TransformGraph
from tfpipe.components.core.errors import UserCodeError
from tfpipe.components.core.spec import Context
from tfpipe.components.core.tf_features import feature_types, raw_feature_spec
from tfpipe.components.core.user_code import guarded, load_function
from tfpipe.components.transform.analysis_cache import AnalysisCache
from tfpipe.components.transform.beam_io import DecodeShards, WriteSplit
from tfpipe.components.transform.beam_overhead import memoize_beam_bookkeeping
from tfpipe.components.transform.params import TransformParams

JOINT_PIPELINE_ROWS = 250_000


def checked_preprocessing_fn(fn, module_file: str):
    """The user's function, with raised errors and bad return values named."""
    call = guarded(fn, module_file, "preprocessing_fn")

    def preprocessing_fn(inputs: dict[str, Any]) -> dict[str, Any]:
        outputs = call(inputs)
        if not isinstance(outputs, dict) or not outputs:
            raise UserCodeError(
                f"preprocessing_fn '{fn.__name__}' in {module_file} must return a non-empty dict "
                f"of tensors, got {type(outputs).__name__}"
            )
        return outputs

    return preprocessing_fn


def run(ctx: Context) -> dict[str, Any]:
    memoize_beam_bookkeeping()
    p: TransformParams = ctx.params
    examples: Examples = ctx.inputs["examples"]
    out: TransformGraph = ctx.output
    feature_spec = raw_feature_spec(examples.schema())
    raw_schema = schema_utils.schema_from_feature_spec(feature_spec)
    preprocessing_fn = checked_preprocessing_fn(
        load_function(p.module_file, p.preprocessing_fn), p.module_file
    )
    splits = examples.splits()
    for split in p.analyze_splits:
        if split not in splits:
            raise UserCodeError(f"transform: analyze split '{split}' not in examples ({splits})")
    files = {s: examples.split_files(s) for s in splits}
    adapter = tfxio.TFExampleRecord(
        file_pattern=files[splits[0]], schema=raw_schema, telemetry_descriptors=[]
    ).TensorAdapterConfig()
    options = PipelineOptions(list(p.beam_args))
    rows = sum(examples.summary.get("splits", {}).get(s, 0) for s in p.analyze_splits)

    total = sum(examples.summary.get("splits", {}).values())
    materialize = p.materializes(total)
    # Small inputs: one pipeline analyses and transforms (a second pipeline's fixed cost is
    # larger than re-reading the data). Large ones: analyse, then transform in a second
    # pipeline, so the raw data is streamed twice instead of held for both uses.
    joint = materialize and total <= JOINT_PIPELINE_ROWS
    decode = DecodeShards(raw_schema.SerializeToString())

    def read(pipeline: beam.Pipeline, name: str, paths: list[str]) -> beam.PCollection:
        return (
            pipeline
            | f"Shards[{name}]" >> beam.Create(paths)
            | f"Decode[{name}]" >> (beam.ParDo(decode))
        )

    def transform_splits(pipeline: beam.Pipeline, transform_fn: beam.PCollection) -> None:
        for split in splits:
            transformed, _ = ((read(pipeline, split, files[split]), adapter), transform_fn) | (
                f"Transform[{split}]" >> tft_beam.TransformDataset(output_record_batches=True)
            )
            _ = transformed | f"Write[{split}]" >> WriteSplit(out.transformed_dir(split))

    drops = analysed_drops(examples, p.analyze_splits)
    cache = (
        AnalysisCache(
            out.uri,
            {
                "module": ctx.external.get("module_digest"),
                "preprocessing_fn": p.preprocessing_fn,
                "raw_features": feature_types(feature_spec),
                "splits": p.analyze_splits,
            },
            drops,
            out.temp_dir,
        )
        if p.uses_analyzer_cache(rows, len(drops))
        else None
    )
    ctx.progress(
        (
            f"analysing {p.analyze_splits} of {len(cache.fresh)} drop(s)"
            + (f", {len(cache.reused)} from the analyzer cache" if cache.reused else "")
            if cache
            else f"analysing {p.analyze_splits} ({rows:,} rows)"
        )
        + (f" and transforming {splits} ({total:,} rows)" if joint else "")
        + " with Beam"
    )
    start = time.perf_counter()
    analysed = [f for s in p.analyze_splits for f in files[s]]
    with (
        beam.Pipeline(options=options) as pipeline,
        tft_beam.Context(temp_dir=out.temp_dir, force_tf_compat_v1=True),
    ):
        if cache:
            transform_fn = cache.analyze(pipeline, read, preprocessing_fn, feature_spec, adapter)
        else:
            raw = read(pipeline, "analyze", analysed)
            transform_fn = (raw, adapter) | tft_beam.AnalyzeDataset(preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(out.graph_dir)
        # WriteTransformFn omits the raw schema; raw_feature_spec() at serving needs it.
        _ = dataset_metadata.DatasetMetadata(raw_schema) | tft_beam.WriteMetadata(
            os.path.join(out.graph_dir, tft.TFTransformOutput.RAW_METADATA_DIR), pipeline
        )
        if joint:
            transform_splits(pipeline, transform_fn)
    if cache:
        cache.commit_fresh(ctx.run_id)

    if materialize and not joint:
        ctx.progress(f"transforming {splits} ({total:,} rows) into tf.Examples")
        with (
            beam.Pipeline(options=options) as pipeline,
            tft_beam.Context(temp_dir=out.temp_dir, force_tf_compat_v1=True),
        ):
            transform_splits(pipeline, pipeline | tft_beam.ReadTransformFn(out.graph_dir))
    shutil.rmtree(out.temp_dir, ignore_errors=True)
    seconds = time.perf_counter() - start
    transformed_spec = tft.TFTransformOutput(out.graph_dir).transformed_feature_spec()
    # tf.Transform maps row to row: each transformed split has its input split's row count.
    counts = {s: examples.summary.get("splits", {}).get(s) for s in splits}
    if materialize:
        for split in splits:
            out.check_transformed(split, counts[split])
    processed = rows + (total if materialize else 0)
    return {
        "transformed_features": sorted(transformed_spec),
        "raw_features": sorted(feature_spec),
        "rows": counts,
        "materialized": materialize,
        "analysis": cache.summary()
        if cache
        else {"cache": False, "drops": len(drops), "read": len(drops)},
        "rows_per_second": round(processed / seconds) if seconds else None,
    }


def analysed_drops(examples: Examples, analyze_splits: list[str]) -> list[tuple[str, list[str]]]:
    """``[(drop, files of the analysed splits)]`` in window order: one tf.Transform dataset each."""
    files: dict[str, list[str]] = {}
    for split in analyze_splits:
        for drop, paths in examples.split_files_by_drop(split):
            files.setdefault(drop, []).extend(paths)
    return list(files.items())
