"""ExampleGen parameters: where the data is, how to split it, what schema to hold it to."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import pydantic

from tfpipe.components.core.spec import ComponentParams

DEFAULT_NA = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None")


class ExampleGenParams(ComponentParams):
    # The data is fingerprinted by content (the resolve hook); the runner changes nothing.
    # The window's days only choose files; the files' content is the identity.
    FINGERPRINT_EXEMPT = frozenset({"input", "beam_args", "data_roots", "data_date", "window_days"})

    input: str | list[str] = pydantic.Field(
        description="a file path or glob of CSV, TFRecord or Parquet files, or a list of them; "
        "a daily partition may be named by a date placeholder, e.g. /data/dt={ds}/*.csv "
        "({ds}: YYYY-MM-DD, {ds_nodash}: YYYYMMDD, {ds:%Y/%m/%d}: any strftime format)"
    )
    window_days: int = pydantic.Field(
        default=1,
        ge=1,
        le=3660,
        description="with a date placeholder in input: train on the last N daily partitions, "
        "ending with data_date; every one of them must have data",
    )
    data_date: dt.date | None = pydantic.Field(
        default=None,
        description="the last day of the window (YYYY-MM-DD); the Airflow DAG sets it from the "
        "run's data interval (the last whole UTC day before the interval's end); unset: "
        "yesterday (UTC)",
    )
    format: Literal["auto", "csv", "tfrecord", "parquet"] = "auto"
    split_ratios: dict[str, float] = pydantic.Field(
        default_factory=lambda: {"train": 0.8, "eval": 0.2},
        description="split name -> relative size, assigned by a deterministic hash of each row",
    )
    split_column: str | None = pydantic.Field(
        default=None, description="a column whose value names each row's split (then dropped)"
    )
    hash_columns: list[str] | None = pydantic.Field(
        default=None, description="columns the split hash uses (default: the whole row)"
    )
    na_values: list[str] = pydantic.Field(default_factory=lambda: list(DEFAULT_NA))
    schema_file: str | None = pydantic.Field(
        default=None,
        description="the data contract: a tensorflow-metadata Schema in text format (.pbtxt); "
        "columns are encoded with its types, and the validator checks the data against it",
    )
    shards: int | None = pydantic.Field(
        default=None, gt=0, description="files per split (default: about one per 64 MB of input)"
    )
    max_domain_size: int = pydantic.Field(
        default=1000, gt=0, description="string columns with more distinct values get no domain"
    )
    on_malformed: Literal["error", "skip"] = pydantic.Field(
        default="error",
        description="a row with the wrong number of fields fails the run, or is set aside in "
        "rejected.csv inside the artifact",
    )
    max_rejected_fraction: float = pydantic.Field(
        default=0.01,
        ge=0,
        le=1,
        description="with on_malformed=skip: more rows set aside than this fraction of the input "
        "fails the run (the file is probably not what was meant)",
    )

    beam_args: list[str] = pydantic.Field(
        default_factory=list,
        description="Beam pipeline options: when given, each input file is converted by a Beam "
        "worker (e.g. --runner=DirectRunner --direct_running_mode=multi_processing, or a portable "
        "runner); empty: one streaming pass in the component's process (fastest on one machine)",
    )

    data_roots: list[str] | None = pydantic.Field(
        default=None,
        description="directories (or s3:// prefixes) every input file must lie in once symbolic "
        "links are resolved; set by the Airflow DAG when a trigger or a data drop names the data "
        "(see TFPIPE_DATA_ROOTS); unset: no confinement (the pipeline's own data)",
    )

    @pydantic.model_validator(mode="after")
    def _window_needs_a_placeholder(self) -> ExampleGenParams:
        from tfpipe.components.example_gen.date_partitions import is_dated

        if not is_dated(self.input) and self.window_days > 1:  # also checks the placeholders
            raise ValueError(
                f"window_days={self.window_days} needs a date placeholder in input, e.g. "
                "/data/dt={ds}/*.csv: the window is made of daily partitions"
            )
        return self

    @pydantic.field_validator("split_ratios")
    @classmethod
    def _positive_ratios(cls, ratios: dict[str, float]) -> dict[str, float]:
        if not ratios:
            raise ValueError("needs at least one split")
        bad = {k: v for k, v in ratios.items() if v <= 0}
        if bad:
            raise ValueError(f"ratios must be positive, got {bad}")
        return ratios
