"""Bulk Inferrer parameters: what to score (a data drop or an Examples artifact), with which model
(this run's, or a served version), which columns to carry along, and how to write the result."""

from __future__ import annotations

from typing import Any, Literal

import pydantic

from tfpipe.components.artifacts import ServingDirectory
from tfpipe.components.bulk_inferrer.columns import check_passthrough, data_columns
from tfpipe.components.core.batching import DEFAULT_BUDGET_MB
from tfpipe.components.core.errors import InputDataError, ParameterError
from tfpipe.components.core.fingerprint import digest
from tfpipe.components.core.spec import ComponentParams, External
from tfpipe.components.example_gen.inputs import input_digest, match_input, missing_inputs
from tfpipe.components.example_gen.params import DEFAULT_NA

WHO = "bulk_inferrer"


class BulkInferrerParams(ComponentParams):
    # The data is identified by content and the model by its served version and identity
    # (resolve_external); where they live, the runner and the batch size change no prediction.
    FINGERPRINT_EXEMPT = frozenset(
        {"data", "serving_model_dir", "model_version"}
        | {"beam_args", "memory_budget_mb", "batch_size"}
    )

    data: str | list[str] | None = pydantic.Field(
        default=None,
        description="a path or glob (or a list of them) of CSV, Parquet or TFRecord files, local "
        "or s3://, read by ExampleGen's readers; unset: the rows of the `examples` input",
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

    def serving_directory(self) -> ServingDirectory | None:
        return ServingDirectory.at(self.serving_model_dir)

    def resolve_external(
        self, inputs: dict[str, str], frozen: dict[str, Any] | None = None
    ) -> External:
        """The data files (by content) and the served version (by identity), frozen for the run;
        refused here, before anything runs: no data or no model, an unblessed served version,
        and passthrough columns that the data lacks."""
        frozen = frozen or {}
        values: dict[str, Any] = {}
        digests: dict[str, str] = {}
        columns: list[str] | None = None
        if ("examples" in inputs) == (self.data is not None):
            raise ParameterError(
                f"{WHO}: give the data to score either as `data` (files) or as an `examples` "
                f"input, exactly one (got {'both' if self.data is not None else 'neither'})"
            )
        if self.data is not None:
            if frozen.get("input_files"):
                files = list(frozen["input_files"])
                objects = dict(frozen.get("input_objects") or {})
            else:
                files, objects = match_input(self.data, WHO, "score")
            missing = missing_inputs(files)
            if missing:
                raise InputDataError(f"{WHO}: input file(s) {missing} disappeared after planning")
            values["input_files"] = files
            if objects:
                values["input_objects"] = objects
            digests["data"] = input_digest(files, objects)
            columns = data_columns(files, self.input_format)
        if "model" in inputs:
            if self.serving_model_dir:
                raise ParameterError(
                    f"{WHO}: the step has a `model` input and a serving_model_dir; score with one"
                )
            if "evaluation" not in inputs and not self.allow_unblessed:
                raise ParameterError(
                    f"{WHO}: a `model` input needs its `evaluation` input (only blessed models "
                    "score), or allow_unblessed=true"
                )
        else:
            values.update(self._served(frozen))
            digests["model"] = digest([values["model_version"], values["model_identity"]])
        if columns is not None:
            check_passthrough(self.passthrough, columns, values.get("outputs"), WHO)
        return External(values=values, digests=digests)

    def _served(self, frozen: dict[str, Any]) -> dict[str, Any]:
        serving = self.serving_directory()
        if serving is None:
            raise ParameterError(
                f"{WHO}: no model to score with: wire a `model` input, or set serving_model_dir"
            )
        if frozen.get("model_version") is not None:
            version = int(frozen["model_version"])
        elif self.model_version == "latest":
            version = serving.latest()
            if version is None:
                raise InputDataError(
                    f"{WHO}: no version of the model is served in {serving.model_dir} yet; push "
                    "one (tfpipe run) before scoring with it"
                )
        else:
            version = int(self.model_version)
        available = serving.versions()
        if version not in available:
            raise InputDataError(
                f"{WHO}: version {version} is not served in {serving.model_dir}; versions: "
                f"{available}"
            )
        # A tfpipe push carries a model card, and the Pusher publishes only blessed models.
        card = serving.card(version)
        if card is None and not self.allow_unblessed:
            raise InputDataError(
                f"{WHO}: version {version} of {serving.model_dir} was not pushed by tfpipe's "
                "Pusher (no model card), so nothing says it was blessed; refusing to score with "
                "it (set allow_unblessed=true to score anyway)"
            )
        info = serving.info(version) or {}
        return {
            "model_version": version,
            "model_identity": serving.identity(version),
            "model_dir": serving.version_dir(version),
            "outputs": {"task": info.get("task"), "classes": info.get("classes")},
        }
