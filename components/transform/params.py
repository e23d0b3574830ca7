"""Transform parameters: the user's preprocessing_fn and how Beam runs it."""

from __future__ import annotations

from typing import Any

import pydantic

from components.core.spec import ComponentParams, External
from components.core.user_code import module_digest

# Beam >= 2.68's DirectRunner tries Prism first (a binary download); name the mode explicitly.
DEFAULT_BEAM_ARGS = ("--runner=DirectRunner", "--direct_running_mode=in_memory")


class TransformParams(ComponentParams):
    module_file: str = pydantic.Field(description="the user module defining preprocessing_fn")
    preprocessing_fn: str = "preprocessing_fn"
    analyze_splits: list[str] = pydantic.Field(
        default_factory=lambda: ["train"], description="splits the analyzers (mean, vocab…) see"
    )
    materialize: bool = pydantic.Field(
        default=True,
        description="write transformed copies of the splits; False: only the graph, which the "
        "trainer then applies to raw examples in its input pipeline (TFX's materialize=False)",
    )
    beam_args: list[str] = pydantic.Field(
        default_factory=lambda: list(DEFAULT_BEAM_ARGS),
        description="Beam pipeline options, e.g. --runner=DataflowRunner --project=…",
    )

    def resolve_external(
        self, inputs: dict[str, str], frozen: dict[str, Any] | None = None
    ) -> External:
        return External(digests={"module_file": module_digest(self.module_file, "transform")})
