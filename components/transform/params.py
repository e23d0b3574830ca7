"""Transform parameters: the user's preprocessing_fn and how Beam runs it."""

from __future__ import annotations

import os

import pydantic

from components.core.errors import UserCodeError
from components.core.fingerprint import file_digest
from components.core.spec import ComponentParams

# Beam >= 2.68's DirectRunner tries Prism first (a binary download); name the mode explicitly.
DEFAULT_BEAM_ARGS = ("--runner=DirectRunner", "--direct_running_mode=in_memory")


class TransformParams(ComponentParams):
    module_file: str = pydantic.Field(description="the user module defining preprocessing_fn")
    preprocessing_fn: str = "preprocessing_fn"
    analyze_splits: list[str] = pydantic.Field(
        default_factory=lambda: ["train"], description="splits the analyzers (mean, vocab…) see"
    )
    beam_args: list[str] = pydantic.Field(
        default_factory=lambda: list(DEFAULT_BEAM_ARGS),
        description="Beam pipeline options, e.g. --runner=DataflowRunner --project=…",
    )

    def external_fingerprints(self, inputs: dict[str, str]) -> dict[str, str]:
        if not os.path.isfile(self.module_file):
            raise UserCodeError(f"transform: module_file '{self.module_file}' does not exist")
        return {"module_file": file_digest(self.module_file)}
