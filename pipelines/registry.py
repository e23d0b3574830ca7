"""Finding pipelines by name (``penguins``) or by file (``path/to/pipeline.py``)."""

from __future__ import annotations

import importlib
import importlib.util
import os

from tfpipe.components.core.errors import ParameterError
from tfpipe.pipelines.definition import Pipeline

BUILTIN = {
    "penguins": "tfpipe.pipelines.penguins.pipeline",
    # The same model on a rolling window of daily partitions (a scheduled, windowed DAG).
    "penguins_daily": "tfpipe.pipelines.penguins.daily",
}
SCORING = "scoring:"  # "scoring:<ref>": the scoring pipeline of <ref> (see pipelines/scoring.py)


def load_pipeline(ref: str, home: str) -> Pipeline:
    """A pipeline from a module that defines ``build(home) -> Pipeline``; ``scoring:<ref>`` is the
    scoring pipeline of ``<ref>``."""
    if ref.startswith(SCORING):
        from tfpipe.pipelines.scoring import scoring_pipeline

        return scoring_pipeline(load_pipeline(ref[len(SCORING) :], home))
    if ref in BUILTIN:
        module = importlib.import_module(BUILTIN[ref])
    elif ref.endswith(".py") and os.path.isfile(ref):
        spec = importlib.util.spec_from_file_location("tfpipe_pipeline_def", ref)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        raise ParameterError(
            f"unknown pipeline '{ref}': give a built-in name ({', '.join(BUILTIN)}) or the path "
            "of a .py file that defines build(home) -> Pipeline"
        )
    return module.build(home)
