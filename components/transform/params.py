"""Transform parameters: the user's preprocessing_fn and how Beam runs it."""

from __future__ import annotations

from typing import Literal

import pydantic

from tfpipe.components.core.spec import ComponentParams

AUTO_MATERIALIZE_ROWS = 250_000
# tf.Transform's cached analysis plans a dataset per drop: about 1 s of Beam planning per drop
# on the in-process runner (6 drops of taxi data: 13.2 s against 6.3 s in one dataset), about
# what analysing 250k rows costs. Below that per drop, analysing the whole window is cheaper.
AUTO_CACHE_ROWS_PER_DROP = 250_000
# Beam >= 2.68's DirectRunner tries Prism first (a binary download); name the mode explicitly.
DEFAULT_BEAM_ARGS = ("--runner=DirectRunner", "--direct_running_mode=in_memory")


class TransformParams(ComponentParams):
    # Any runner gives the same graph and rows; so does an analysis from cached accumulators.
    FINGERPRINT_EXEMPT = frozenset({"beam_args", "analyzer_cache"})

    module_file: str = pydantic.Field(description="the user module defining preprocessing_fn")
    preprocessing_fn: str = "preprocessing_fn"
    analyze_splits: list[str] = pydantic.Field(
        default_factory=lambda: ["train"], description="splits the analyzers (mean, vocab…) see"
    )
    materialize: bool | Literal["auto"] = pydantic.Field(
        default="auto",
        description="write transformed copies of the splits; False: only the graph, which the "
        "trainer then applies to raw examples in its input pipeline (TFX's materialize=False); "
        f"auto: materialize inputs of up to {AUTO_MATERIALIZE_ROWS:,} rows (copies are cheap and "
        "make training faster), stream larger ones (training reads a fraction of them)",
    )

    def materializes(self, rows: int) -> bool:
        return rows <= AUTO_MATERIALIZE_ROWS if self.materialize == "auto" else self.materialize

    analyzer_cache: bool | Literal["auto"] = pydantic.Field(
        default="auto",
        description="analyse each data drop once and keep its analyzer accumulators in the store "
        "(tf.Transform's analyzer cache), so a shifted window analyses only its new drops; "
        "auto: when the window's drops average at least "
        f"{AUTO_CACHE_ROWS_PER_DROP:,} analysed rows (below that, Beam's planning of one dataset "
        "per drop costs more than reading the drops again)",
    )

    def uses_analyzer_cache(self, rows: int, drops: int) -> bool:
        if self.analyzer_cache == "auto":
            return drops > 1 and rows / drops >= AUTO_CACHE_ROWS_PER_DROP
        return self.analyzer_cache

    beam_args: list[str] = pydantic.Field(
        default_factory=lambda: list(DEFAULT_BEAM_ARGS),
        description="Beam pipeline options, e.g. --runner=DataflowRunner --project=…",
    )
