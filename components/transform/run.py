"""Transform entry point: analyse on the train split, transform every split, write the graph."""

from __future__ import annotations

import os
import shutil
from typing import Any

import apache_beam as beam
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.options.pipeline_options import PipelineOptions
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils
from tfx_bsl.public import tfxio

from components.artifacts import Examples, TransformGraph
from components.core.errors import UserCodeError
from components.core.spec import Context
from components.core.tf_features import raw_feature_spec
from components.core.user_code import guarded, load_function
from components.transform.params import TransformParams


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
    p: TransformParams = ctx.params
    examples: Examples = ctx.inputs["examples"]
    out: TransformGraph = ctx.output
    schema = examples.schema()
    feature_spec = raw_feature_spec(schema)
    raw_schema = schema_utils.schema_from_feature_spec(feature_spec)
    raw_metadata = dataset_metadata.DatasetMetadata(raw_schema)
    preprocessing_fn = checked_preprocessing_fn(
        load_function(p.module_file, p.preprocessing_fn), p.module_file
    )

    splits = examples.splits()
    graph_dir = out.graph_dir
    temp_dir = out.temp_dir
    sources = {
        split: tfxio.TFExampleRecord(
            file_pattern=examples.split_files(split), schema=raw_schema, telemetry_descriptors=[]
        )
        for split in splits
    }
    for split in p.analyze_splits:
        if split not in sources:
            raise UserCodeError(f"transform: analyze split '{split}' not in examples ({splits})")

    ctx.progress(f"analysing {p.analyze_splits} and transforming {splits} with Beam")
    options = PipelineOptions(list(p.beam_args))
    with beam.Pipeline(options=options) as pipeline, tft_beam.Context(temp_dir=temp_dir):
        raw = {s: pipeline | f"Read[{s}]" >> src.BeamSource() for s, src in sources.items()}
        adapter = sources[splits[0]].TensorAdapterConfig()
        to_analyze = [raw[s] for s in p.analyze_splits]
        analyze_input = (
            to_analyze[0] if len(to_analyze) == 1 else to_analyze | "Flatten" >> beam.Flatten()
        )
        transform_fn = (analyze_input, adapter) | tft_beam.AnalyzeDataset(preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(graph_dir)
        # WriteTransformFn omits the raw schema; raw_feature_spec() at serving needs it.
        _ = raw_metadata | "WriteRawMetadata" >> tft_beam.WriteMetadata(
            os.path.join(graph_dir, tft.TFTransformOutput.RAW_METADATA_DIR), pipeline
        )
        for split in splits:
            data, metadata = ((raw[split], adapter), transform_fn) | f"Transform[{split}]" >> (
                tft_beam.TransformDataset()
            )
            coder = tft.coders.ExampleProtoCoder(metadata.schema)
            _ = (
                data
                | f"Encode[{split}]" >> beam.Map(coder.encode)
                | f"Write[{split}]"
                >> beam.io.WriteToTFRecord(
                    out.transformed_shard_path(split, 0, 1).removesuffix(".tfrecord"),
                    file_name_suffix=".tfrecord",
                    num_shards=1,
                    shard_name_template="",
                )
            )
    shutil.rmtree(temp_dir, ignore_errors=True)

    output = tft.TFTransformOutput(graph_dir)
    transformed = output.transformed_feature_spec()
    # tf.Transform maps row to row: each transformed split has its input split's row count.
    counts = {s: examples.summary.get("splits", {}).get(s) for s in splits}
    return {
        "transformed_features": sorted(transformed),
        "raw_features": sorted(feature_spec),
        "rows": counts,
    }
