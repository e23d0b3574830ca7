"""Bulk Inferrer parameters: what to score (a data drop or an Examples artifact), with which model
(this run's, or a served version), which columns to carry along, and how to write the result."""

from __future__ import annotations

from typing import Literal

import pydantic

from tfpipe.components.core.batching import DEFAULT_BUDGET_MB
from tfpipe.components.core.spec import ComponentParams
from tfpipe.components.example_gen.params import DEFAULT_NA

WHO = "bulk_inferrer"


class BulkInferrerParams(ComponentParams):
    COLUMN_FIELDS = ("passthrough",)
    # The data is identified by content and the model by its served version and identity
    # (the resolve hook); where they live, the runner and the batch size change no prediction.
    FINGERPRINT_EXEMPT = frozenset(
        {"data", "data_roots", "serving_model_dir", "model_version"}
        | {"beam_args", "memory_budget_mb", "batch_size"}
    )

    data: str | list[str] | None = pydantic.Field(
        default=None,
        description="a path or glob (or a list of them) of CSV, Parquet or TFRecord files, local "
        "or s3://, read by ExampleGen's readers; unset: the rows of the `examples` input",
    )
    data_roots: list[str] | None = pydantic.Field(
        default=None,
        description="set by the DAG for data a trigger named: what `data` matches and what is "
        "read must lie inside these directories or bucket prefixes (by real path)",
    )
    input_format: Literal["auto", "csv", "tfrecord", "parquet"] = "auto"
    na_values: list[str] = pydantic.Field(default_factory=lambda: list(DEFAULT_NA))
    split: str | None = pydantic.Field(
        default=None, description="with an `examples` input: the split to score (unset: all)"
    )
    serving_model_dir: str | None = pydantic.Field(
        default=None,
        description="a TF Serving model directory (<serving_base>/<name>) to score with, when the "
        "step has no `model` input",
    )
    model_version: int | Literal["latest"] = pydantic.Field(
        default="latest", description="the served version to score with: a number, or 'latest'"
    )
    allow_unblessed: bool = pydantic.Field(
        default=False,
        description="score with a model the Evaluator did not bless (or a served version that "
        "tfpipe did not push); refused otherwise",
    )
    passthrough: list[str] = pydantic.Field(
        default_factory=list,
        description="input columns copied to the output row for row, before the predictions "
        "(ids, keys, a timestamp)",
    )
    output_format: Literal["parquet", "csv", "tfrecord"] = "parquet"
    rows_per_shard: int = pydantic.Field(
        default=1_000_000, gt=0, description="rows per output file (each input file is sharded)"
    )
    memory_budget_mb: int = pydantic.Field(
        default=DEFAULT_BUDGET_MB,
        gt=0,
        description="memory for the rows in flight: the batch size is this over the model's "
        "measured cost per row",
    )
    batch_size: int | None = pydantic.Field(
        default=None, gt=0, description="a fixed batch size instead of the budget's"
    )
    beam_args: list[str] = pydantic.Field(
        default_factory=list,
        description="Beam pipeline options: when given, scoring runs as a Beam pipeline (tfx-bsl's "
        "RunInference) on that runner; empty: in the component's process",
    )

    @pydantic.field_validator("passthrough")
    @classmethod
    def _unique(cls, columns: list[str]) -> list[str]:
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ValueError(f"repeats column(s) {repeated}")
        return columns

    def named_columns(self) -> dict[str, list[str]]:
        """The passthrough columns are the pipeline's data's only when its Examples are what is
        scored; a data drop's own columns are checked against the drop (the resolve hook), not
        against the data the model was trained on (an id column is seldom a training column)."""
        return super().named_columns() if self.data is None else {}
