"""TFX's ``DataAccessor`` over tfpipe's artifacts (imports TensorFlow).

``tf_dataset_factory`` reads through tfx-bsl's TFXIO, as TFX's does. When the module asks for the
transformed schema and the files are raw examples (Transform did not materialize the splits), the
raw examples are read with the raw schema and the transform graph is applied inside the dataset,
batch by batch (TFX's materialize=False, done for the module): the module sees the same batched
transformed features and label either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import tensorflow as tf
from tfx_bsl.public import tfxio

from tfpipe.components.artifacts import TransformGraph
from tfpipe.components.core.errors import InputDataError, UserCodeError
from tfpipe.components.trainer.data import transform_fn, transform_output
from tfpipe.tfx.components.trainer.fn_args_utils import DataAccessor

TELEMETRY = ["tfpipe", "Trainer"]


class TransformedData:
    """The data a ``run_fn`` reads: file lists per split and the factories over them. Records
    the label keys and batch sizes the module asked for (the model's label, throughput)."""

    def __init__(self, transform: TransformGraph) -> None:
        self.transform = transform
        self.output = transform_output(transform)
        self.transformed_names = set(self.output.transformed_feature_spec())
        self.raw_names = set(self.output.raw_feature_spec())
        self.label_keys: list[str] = []
        self.batch_sizes: dict[str, int] = {}

    def files(self, split: str) -> list[str]:
        """A split's examples: the transformed copies when Transform wrote them, else raw."""
        if self.transform.materialized:
            return self.transform.transformed_files(split)
        return self.raw_files(split)

    def raw_files(self, split: str) -> list[str]:
        return self.transform.input("examples").split_files(split)

    def accessor(self) -> DataAccessor:
        return DataAccessor(
            tf_dataset_factory=self.tf_dataset_factory,
            record_batch_factory=self.record_batch_factory,
            data_view_decode_fn=None,
        )

    def tf_dataset_factory(
        self, file_pattern: list[str] | str, options: Any, schema: Any = None
    ) -> tf.data.Dataset:
        files = _expand(file_pattern)
        if schema is None:
            raise UserCodeError(
                "data_accessor.tf_dataset_factory needs a schema: pass "
                "tft.TFTransformOutput(fn_args.transform_output).transformed_metadata.schema, as "
                "TFX's examples do"
            )
        if options.label_key:
            if options.label_key not in self.label_keys:
                self.label_keys.append(options.label_key)
        self.batch_sizes[files[0]] = int(options.batch_size)
        if self._raw(files) and self._wants_transformed(schema):
            return self._transformed_from_raw(files, options, schema)
        return tfxio.TFExampleRecord(
            file_pattern=files, schema=schema, telemetry_descriptors=TELEMETRY
        ).TensorFlowDataset(options)

    def record_batch_factory(
        self, file_pattern: list[str] | str, options: Any, schema: Any = None
    ) -> Iterator[Any]:
        """Arrow record batches of the examples as they are on disk (TFX's behaviour)."""
        files = _expand(file_pattern)
        if schema is not None and self._raw(files) and self._wants_transformed(schema):
            raise UserCodeError(
                "data_accessor.record_batch_factory reads examples as they are on disk, and these "
                "are raw examples (Transform did not materialize the splits): pass the raw schema "
                "(fn_args.schema_path), use tf_dataset_factory (which applies the transform), or "
                "set transform.materialize=true"
            )
        return tfxio.TFExampleRecord(
            file_pattern=files, schema=schema, telemetry_descriptors=TELEMETRY
        ).RecordBatches(options)

    def _raw(self, files: list[str]) -> bool:
        if not self.transform.materialized:
            return True
        transformed = {
            f for split in self.transform.input("examples").splits() for f in self._copies(split)
        }
        return any(f not in transformed for f in files)

    def _copies(self, split: str) -> list[str]:
        try:
            return self.transform.transformed_files(split)
        except InputDataError:  # no copy of this split
            return []

    def _wants_transformed(self, schema: Any) -> bool:
        names = {f.name for f in schema.feature}
        return bool(names) and names <= self.transformed_names and not names <= self.raw_names

    def _transformed_from_raw(self, files: list[str], options: Any, schema: Any) -> tf.data.Dataset:
        names = [f.name for f in schema.feature]
        label = options.label_key
        if label and label not in names:
            raise UserCodeError(
                f"tf_dataset_factory: label_key '{label}' is not a feature of the schema given "
                f"({sorted(names)})"
            )
        raw = tfxio.TFExampleRecord(
            file_pattern=files,
            schema=self.output.raw_metadata.schema,
            telemetry_descriptors=TELEMETRY,
        ).TensorFlowDataset(options._replace(label_key=None))
        apply = transform_fn(self.output)

        def transformed(batch: dict[str, Any]) -> Any:
            features = apply(batch)
            selected = {name: features[name] for name in names}
            if label:
                return selected, selected.pop(label)
            return selected

        return raw.map(transformed, num_parallel_calls=tf.data.AUTOTUNE)


def _expand(file_pattern: list[str] | str) -> list[str]:
    patterns = [file_pattern] if isinstance(file_pattern, str) else list(file_pattern)
    files: list[str] = []
    for pattern in patterns:
        matched = sorted(tf.io.gfile.glob(pattern))
        if not matched:
            raise UserCodeError(f"data_accessor: no file matches '{pattern}'")
        files += matched
    return files
