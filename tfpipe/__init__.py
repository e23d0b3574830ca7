"""tfpipe: Airflow-orchestrated TensorFlow pipelines (tf.Transform on Beam, Keras or Estimator
training, evaluation, versioned push, batch scoring).

This is the public API: what a pipeline file, a user module and a DAG file import. Everything
under ``tfpipe.components`` and ``tfpipe.pipelines`` is internal and free to move.

- Pipeline files: :class:`Pipeline`, :class:`Step`, :class:`RunParam`, :class:`Label`,
  :class:`Scoring`, :func:`default_home`, :func:`serving_base`.
- Readers of predictions: :func:`prediction_files` (the local files of a scoring's output).
- DAG files: :mod:`tfpipe.airflow` (``build_dag``, ``build_scoring_dag``, ``data_asset``,
  ``pushed_model_asset``, ``predictions_asset``).
- User modules: :mod:`tfpipe.transform` (tf.Transform helpers), :mod:`tfpipe.tfx` (TFX's module
  paths, for TFX user modules).

Names are resolved lazily, so ``import tfpipe`` imports neither TensorFlow nor Airflow.

In the source tree the repository keeps its layout (``components/``, ``pipelines/`` beside
``pyproject.toml``): this package's path covers the repository root there, so
``tfpipe.components`` is ``<repo>/components``. An installed wheel maps the same folders under
``tfpipe/`` (``pyproject.toml``'s ``package-dir``) and installs nothing else at the top level.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

_REPO = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
if os.path.isfile(os.path.join(_REPO, "pyproject.toml")) and os.path.isdir(
    os.path.join(_REPO, "components")
):
    __path__.append(_REPO)  # the source tree: tfpipe.components is <repo>/components

_PUBLIC = {
    "Pipeline": "tfpipe.pipelines.definition",
    "Step": "tfpipe.pipelines.definition",
    "RunParam": "tfpipe.pipelines.definition",
    "Label": "tfpipe.pipelines.definition",
    "Scoring": "tfpipe.pipelines.definition",
    "prediction_files": "tfpipe.components.artifacts.types",
    "default_home": "tfpipe.pipelines.home",
    "serving_base": "tfpipe.pipelines.home",
    "ParameterError": "tfpipe.components.core.errors",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tfpipe' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
