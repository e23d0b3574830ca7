"""Transform parameters: the user's preprocessing_fn and how Beam runs it."""

from __future__ import annotations

from typing import Literal

import pydantic

from tfpipe.components.core.spec import ComponentParams

AUTO_MATERIALIZE_ROWS = 250_000
# Beam >= 2.68's DirectRunner tries Prism first (a binary download); name the mode explicitly.
DEFAULT_BEAM_ARGS = ("--runner=DirectRunner", "--direct_running_mode=in_memory")


class TransformParams(ComponentParams):
    FINGERPRINT_EXEMPT = frozenset({"beam_args"})  # any runner gives the same graph and rows

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

    beam_args: list[str] = pydantic.Field(
        default_factory=lambda: list(DEFAULT_BEAM_ARGS),
        description="Beam pipeline options, e.g. --runner=DataflowRunner --project=…",
    )
