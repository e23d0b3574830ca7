"""``FnArgs`` and ``DataAccessor``: what tfpipe's Trainer passes to a module's ``run_fn``.

The same attributes as TFX's (``tfx/components/trainer/fn_args_utils.py``), with TFX's meaning;
tfpipe's Trainer fills them (``tfpipe.components.trainer.tfx_run_fn``). Plain data: no TensorFlow
is imported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple


class DataAccessor(NamedTuple):
    """Factories over the train/eval data, whatever its form on disk.

    ``tf_dataset_factory(files, tfxio.TensorFlowDatasetOptions(batch_size, label_key=…), schema)``
    returns a ``tf.data.Dataset`` of batched ``(features, label)`` (features only without a
    ``label_key``), read through tfx-bsl's TFXIO. Given the transformed schema it yields the
    transformed features, also when Transform did not materialize the splits (tfpipe then applies
    the transform graph to the raw examples inside the dataset). ``record_batch_factory(files,
    tfxio.RecordBatchesOptions(…), schema)`` yields Arrow record batches of the examples as they
    are on disk.
    """

    tf_dataset_factory: Callable[[list[str], Any, Any], Any]
    record_batch_factory: Callable[[list[str], Any, Any], Iterator[Any]]
    data_view_decode_fn: Callable[[Any], dict[str, Any]] | None = None


@dataclass
class FnArgs:
    """Arguments of ``run_fn`` (and ``tuner_fn``), as TFX names them.

    Attributes:
      working_dir: a scratch directory of this training.
      train_files / eval_files: the split's example files (each a pattern that matches itself);
        the transformed copies when Transform materialized them, else the raw examples.
      train_steps / eval_steps: ``trainer.train_steps`` / ``trainer.eval_steps``.
      schema_path / schema_file: the raw data's schema (tensorflow-metadata text format).
      transform_graph_path / transform_output: the tf.Transform output directory
        (``tft.TFTransformOutput(fn_args.transform_output)``).
      data_accessor: see :class:`DataAccessor`.
      serving_model_dir: where ``run_fn`` saves the serving SavedModel (the Model artifact).
      eval_model_dir: the same directory (TFX's Estimator-only eval model; unused here).
      model_run_dir: TensorBoard logs and other training outputs (kept in the Model artifact).
      base_model: with ``trainer.warm_start=served``, the SavedModel being served now; else None.
      hyperparameters: ``trainer.hyperparameters`` (None when empty).
      custom_config: ``trainer.custom_config`` (None when empty).
    """

    working_dir: str | None = None
    train_files: list[str] | None = None
    eval_files: list[str] | None = None
    train_steps: int | None = None
    eval_steps: int | None = None
    schema_path: str | None = None
    schema_file: str | None = None
    transform_graph_path: str | None = None
    transform_output: str | None = None
    data_accessor: DataAccessor | None = None
    serving_model_dir: str | None = None
    eval_model_dir: str | None = None
    model_run_dir: str | None = None
    base_model: str | None = None
    hyperparameters: dict[str, Any] | None = None
    custom_config: dict[str, Any] | None = None


__all__ = ["DataAccessor", "FnArgs"]
